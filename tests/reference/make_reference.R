# make_reference.R -- regenerate the R reference results of this folder.
#
#   cd tests/reference && Rscript make_reference.R            # writes here
#   Rscript tests/reference/make_reference.R /tmp/refout      # writes elsewhere
#
# The inputs (edge.csv, lung_spec.json, edge_spec.json) are read from the folder
# this script lives in; the outputs (lung.csv, lung_R.json, edge_R.json) go to the
# output folder given as the only argument (default: the script's folder), so a
# regeneration can be compared with the committed files before replacing them
# (python compare_reference.py OUT_DIR).
#
# Made for R 4.2.2 with survival 3.5-3 (the versions recorded in each _meta).
# Packages: survival, jsonlite.  See README.md for the spec format and the
# meaning of every output field.

suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
})

# ---------------------------------------------------------------------------
# Folders
# ---------------------------------------------------------------------------

script_dir <- local({
  # Rscript passes the script path as --file=...; fall back to the working
  # directory when the code is sourced interactively from inside the folder.
  f <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
  f <- gsub("~+~", " ", f, fixed = TRUE)   # Rscript's encoding of spaces in the path
  if (length(f) == 1) dirname(normalizePath(f)) else getwd()
})
args <- commandArgs(TRUE)
out_dir <- if (length(args) >= 1) args[1] else script_dir
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)
out_dir <- normalizePath(out_dir)

# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

# A number for the JSON: plain double, no names, NA for NaN/Inf (written as null,
# which is how the files spell R's NA).
num <- function(x) {
  x <- unname(as.numeric(x))
  x[!is.finite(x)] <- NA
  x
}
# A JSON array even when it has one element (auto_unbox would make it a scalar).
arr <- function(x) I(num(x))

pvalue <- function(stat, df) pchisq(stat, df, lower.tail = FALSE)

# A failing analysis is reported as {"type": ..., "error": message}; this
# condition class carries the messages the spec-level checks give.
spec_error <- function(msg) stop(structure(class = c("spec_error", "error", "condition"),
                                           list(message = msg, call = NULL)))

# Group / factor levels in sorted order: numeric order for numeric columns,
# string order otherwise; labels as R prints them (2 -> "2").
sorted_levels <- function(x) as.character(sort(unique(x[!is.na(x)])))

# "col==value & col2>=value2": the rows meeting every condition.  The value is
# compared as a number for a numeric column, as a string otherwise; a missing
# value never meets a condition.
apply_subset <- function(d, subset) {
  if (is.null(subset) || !nzchar(subset)) return(d)
  keep <- rep(TRUE, nrow(d))
  for (cond in strsplit(subset, "&", fixed = TRUE)[[1]]) {
    m <- regmatches(cond, regexec("^\\s*([^\\s=!<>]+)\\s*(==|!=|>=|<=|>|<)\\s*(.+?)\\s*$",
                                  cond, perl = TRUE))[[1]]
    if (length(m) != 4)
      spec_error(sprintf("subset condition '%s' not understood; expected e.g. 'sex==2'", trimws(cond)))
    col <- m[2]; op <- m[3]; raw <- gsub("^['\"]|['\"]$", "", m[4])
    if (!col %in% names(d)) spec_error(sprintf("subset column '%s' not in CSV", col))
    x <- d[[col]]
    value <- if (is.numeric(x)) suppressWarnings(as.numeric(raw)) else raw
    if (is.numeric(x) && is.na(value))
      spec_error(sprintf("subset value '%s' for numeric column '%s' is not a number", raw, col))
    if (!is.numeric(x)) x <- as.character(x)
    hit <- get(op)(x, value)
    keep <- keep & !is.na(hit) & hit
  }
  d[keep, , drop = FALSE]
}

# The columns an analysis uses (fields may hold a name or a list of names):
# every one must exist; rows with a missing value in any of them are dropped,
# as R's model functions do with na.action = na.omit.
need <- function(d, item, fields) {
  cols <- unlist(lapply(fields, function(f) unlist(item[[f]])))
  for (col in cols) if (!col %in% names(d)) spec_error(sprintf("column '%s' not in CSV", col))
  d[stats::complete.cases(d[, cols, drop = FALSE]), , drop = FALSE]
}

check_event <- function(d, col) {
  e <- d[[col]]
  if (!is.numeric(e) || !all(e %in% c(0, 1)))
    spec_error("event column must be coded 0/1 (recode e.g. lung status 1/2 first)")
}

# ---------------------------------------------------------------------------
# km: survfit
# ---------------------------------------------------------------------------

CONF_TYPES <- c("log", "log-log", "plain")   # R's default first
MEDIAN_RULE <- "survival::quantile.survfit (first t with S(t)<=0.5; midpoint if S==0.5 on an interval)"

run_km <- function(d, item) {
  d <- need(d, item, c("time", "event", "group"))
  check_event(d, item$event)
  conf_level <- if (is.null(item$conf_level)) 0.95 else item$conf_level
  # rmean is restricted to the largest time of the analysed rows unless stated
  tau <- if (is.null(item$rmean_tau)) max(d[[item$time]]) else item$rmean_tau
  times <- unlist(item$times)
  if (is.null(item$group)) {
    parts <- list(all = d)
  } else {
    g <- d[[item$group]]
    levs <- sorted_levels(g)
    parts <- setNames(lapply(levs, function(l) d[as.character(g) == l, , drop = FALSE]), levs)
  }
  groups <- lapply(parts, function(p) {
    y <- Surv(p[[item$time]], p[[item$event]])
    # one fit per confidence-band type; the curve itself is the same in all
    fits <- setNames(lapply(CONF_TYPES, function(ct)
      survfit(y ~ 1, conf.int = conf_level, conf.type = ct)), CONF_TYPES)
    fit <- fits[["log"]]
    tab <- summary(fit, rmean = tau)$table
    entry <- list(
      n = num(fit$n),
      events = num(sum(fit$n.event)),
      median = num(quantile(fit, probs = 0.5, conf.int = FALSE)),
      rmean = num(tab["rmean"]),
      rmean_se = num(tab["se(rmean)"]),
      # Brookmeyer-Crowley: where each band crosses 0.5 (NA if it never does)
      median_ci = lapply(fits, function(f) {
        q <- quantile(f, probs = 0.5)
        arr(c(q$lower, q$upper))
      })
    )
    if (length(times)) {
      # extend = TRUE: a time past the last observation still gets a row
      s <- lapply(fits, function(f) summary(f, times = times, extend = TRUE))
      entry$at_times <- list(
        time = arr(s$log$time),
        n_risk = arr(s$log$n.risk),
        surv = arr(s$log$surv),
        std_err = arr(s$log$std.err),          # of S(t), as summary() prints it
        ci = lapply(s, function(x) list(lower = arr(x$lower), upper = arr(x$upper)))
      )
    }
    entry
  })
  list(n_total = nrow(d), conf_level = conf_level, median_rule = MEDIAN_RULE,
       rmean_tau = tau, groups = groups)
}

# ---------------------------------------------------------------------------
# logrank: survdiff (rho = 0 log-rank, rho = 1 Peto-Peto)
# ---------------------------------------------------------------------------

run_logrank <- function(d, item) {
  d <- need(d, item, c("time", "event", "group"))
  check_event(d, item$event)
  rho <- if (is.null(item$rho)) 0 else item$rho
  g <- factor(as.character(d[[item$group]]), levels = sorted_levels(d[[item$group]]))
  sd <- survdiff(Surv(d[[item$time]], d[[item$event]]) ~ g, rho = rho)
  df <- sum(sd$exp > 0) - 1                   # as print.survdiff counts it
  groups <- setNames(lapply(seq_along(levels(g)), function(i)
    list(n = num(sd$n[i]), observed = num(sd$obs[i]), expected = num(sd$exp[i]))), levels(g))
  list(rho = rho, n_total = nrow(d), chisq = num(sd$chisq), df = df,
       p = pvalue(sd$chisq, df), groups = groups)
}

# ---------------------------------------------------------------------------
# cox: coxph and what is derived from it
# ---------------------------------------------------------------------------

# The survival < 3.0 cox.zph (survival 2.44), which lifelines'
# proportional_hazard_test implements: each coefficient's test uses the
# approximation var(scaled Schoenfeld residual) = ndead * var(beta) instead of
# the full information matrix that survival >= 3.0 uses.  Transform "km":
# 1 - the left-continuous Kaplan-Meier of all the rows (strata ignored) at each
# death time, as survival 2.44 built it: the values in increasing time order,
# each repeated once per death.
#
# Those values are paired with the Schoenfeld residual rows by position.  The
# residuals are in time order within stratum, so for an unstratified model this
# is the exact 2.44 formula; for a stratified one (edge cox_str) survival 2.44
# would first have reordered the KM values to the residuals' times
# (km[sort.list(sort.list(times))]).  The committed edge_R.json has the values
# paired by position, and this script reproduces it; the reordered version would
# give armB 0.0941, x 0.00319, GLOBAL 0.245.
zph_legacy <- function(fit) {
  sresid <- as.matrix(resid(fit, type = "schoenfeld"))
  nvar <- ncol(sresid)
  ndead <- nrow(sresid)
  km <- survfit(fit$y ~ 1, se.fit = FALSE)
  died <- km$n.event > 0
  # S(t-) at each death: 1 before the first death time, then S at the previous one
  s_left <- rep(c(1, km$surv[died]), c(km$n.event[died], 0))
  ttimes <- 1 - s_left
  xx <- ttimes - mean(ttimes)
  r2 <- sresid %*% fit$var * ndead
  test <- drop(xx %*% r2)
  z <- test^2 / (diag(fit$var) * ndead * sum(xx^2))
  out <- setNames(lapply(z, function(v) list(chisq = num(v), df = 1, p = pvalue(v, 1))),
                  names(coef(fit)))
  # GLOBAL: also given for a single coefficient (2.44 omitted it there; it then
  # equals that coefficient's test)
  tg <- drop(xx %*% sresid)
  zg <- drop(tg %*% fit$var %*% tg) * ndead / sum(xx^2)
  out$GLOBAL <- list(chisq = num(zg), df = nvar, p = pvalue(zg, nvar))
  out
}

run_cox <- function(d, item) {
  d <- need(d, item, c("time", "event", "covariates", "strata"))
  check_event(d, item$event)
  ties <- if (is.null(item$ties)) "efron" else item$ties
  covs <- unlist(item$covariates)
  strata_cols <- unlist(item$strata)
  factors <- unlist(item$factors)
  # String columns and the columns named in "factors" are categorical, levels in
  # sorted order; the first level (or the one in "ref") is the reference.
  for (v in covs) {
    if (is.character(d[[v]]) || v %in% factors) {
      levs <- sorted_levels(d[[v]])
      d[[v]] <- factor(as.character(d[[v]]), levels = levs)
      if (!is.null(item$ref[[v]])) d[[v]] <- relevel(d[[v]], ref = as.character(item$ref[[v]]))
    }
  }
  bq <- function(x) if (length(x)) paste0("`", x, "`") else character(0)   # backquoted names
  lhs <- sprintf("Surv(%s, %s)", bq(item$time), bq(item$event))
  strata_term <- if (length(strata_cols))
    sprintf("strata(%s)", paste(bq(strata_cols), collapse = ", ")) else NULL
  formula_of <- function(terms) {
    rhs <- c(terms, strata_term)
    as.formula(paste(lhs, "~", if (length(rhs)) paste(rhs, collapse = " + ") else "1"),
               env = environment())
  }
  fit_of <- function(terms) coxph(formula_of(terms), data = d, ties = ties, model = TRUE, x = TRUE)

  fit <- fit_of(bq(covs))
  sm <- summary(fit, conf.int = 0.95)
  cf <- sm$coefficients
  ci <- sm$conf.int
  coefficients <- setNames(lapply(rownames(cf), function(k) list(
    coef = num(cf[k, "coef"]), se = num(cf[k, "se(coef)"]), hr = num(cf[k, "exp(coef)"]),
    hr_lower = num(ci[k, "lower .95"]), hr_upper = num(ci[k, "upper .95"]),
    z = num(cf[k, "z"]), p = num(cf[k, "Pr(>|z|)"]))), rownames(cf))
  test_of <- function(t) list(stat = num(t["test"]), df = num(t["df"]), p = num(t["pvalue"]))

  # cox.zph of survival >= 3.0, per term (not per coefficient) and GLOBAL
  zt <- cox.zph(fit, transform = "km")$table
  zph <- setNames(lapply(rownames(zt), function(k)
    list(chisq = num(zt[k, "chisq"]), df = num(zt[k, "df"]), p = num(zt[k, "p"]))), rownames(zt))

  # Likelihood-ratio test of each term: the model refitted without it (strata
  # kept); without any term left the reduced log likelihood is the null one.
  # fit$assign: the coefficients of each term, in the order of the covariates
  term_lr <- setNames(lapply(seq_along(covs), function(i) {
    rest <- bq(covs[-i])
    ll0 <- if (length(rest)) fit_of(rest)$loglik[2] else fit$loglik[1]
    stat <- 2 * (fit$loglik[2] - ll0)
    df <- length(fit$assign[[i]])
    list(stat = num(stat), df = df, p = pvalue(stat, df))
  }), covs)

  # Profile-likelihood 95% CI: coefficient j fixed at b through an offset, the
  # others refitted; the bounds are the b where 2 * (loglik_max - loglik(b))
  # equals the 95% chi-squared quantile on 1 df.
  X <- fit$x
  y <- fit$y
  strat <- if (length(strata_cols)) strata(d[strata_cols]) else NULL
  crit <- qchisq(0.95, 1)
  llmax <- fit$loglik[2]
  profile_ll <- function(j, b) {
    off <- b * X[, j]
    rest <- X[, -j, drop = FALSE]
    f <- if (ncol(rest)) {
      if (is.null(strat)) coxph(y ~ rest + offset(off), ties = ties)
      else coxph(y ~ rest + offset(off) + strata(strat), ties = ties)
    } else {
      if (is.null(strat)) coxph(y ~ offset(off), ties = ties)
      else coxph(y ~ offset(off) + strata(strat), ties = ties)
    }
    tail(f$loglik, 1)   # a fit without free coefficients has only the one value
  }
  beta <- coef(fit)
  se <- sqrt(diag(fit$var))
  profile_ci <- setNames(lapply(seq_along(beta), function(j) {
    g <- function(b) 2 * (llmax - profile_ll(j, b)) - crit
    # bracket from the estimate to 2 standard errors out (the profile bound is
    # near 1.96 se), widened if the sign has not changed; a tight tolerance, as
    # the tests compare these figures at 1e-5 to 1e-6
    lo <- uniroot(g, c(beta[j] - 2 * se[j], beta[j]), extendInt = "downX", tol = 1e-12)$root
    hi <- uniroot(g, c(beta[j], beta[j] + 2 * se[j]), extendInt = "upX", tol = 1e-12)$root
    list(coef_lower = num(lo), coef_upper = num(hi), hr_lower = num(exp(lo)), hr_upper = num(exp(hi)))
  }), names(beta))

  list(
    ties = ties, n = num(fit$n), nevent = num(fit$nevent),
    loglik_null = num(fit$loglik[1]), loglik = num(fit$loglik[2]),
    coefficients = coefficients,
    # summary.coxph rounds its Wald statistic to 2 decimals: take it from the fit
    lr = test_of(sm$logtest),
    wald = list(stat = num(fit$wald.test), df = num(sm$waldtest["df"]),
                p = pvalue(fit$wald.test, sm$waldtest["df"])),
    score = test_of(sm$sctest),
    concordance = num(fit$concordance["concordance"]),
    concordance_se = num(fit$concordance["std"]),
    zph_transform = "km",
    zph = zph,
    zph_legacy = zph_legacy(fit),
    term_lr = term_lr,
    profile_ci = profile_ci
  )
}

# ---------------------------------------------------------------------------
# chisq / fisher: contingency tables
# ---------------------------------------------------------------------------

crosstab <- function(d, item) {
  d <- need(d, item, c("row", "col"))
  r <- d[[item$row]]; k <- d[[item$col]]
  table(factor(as.character(r), levels = sorted_levels(r)),
        factor(as.character(k), levels = sorted_levels(k)))
}

run_chisq <- function(d, item) {
  tab <- crosstab(d, item)
  correct <- isTRUE(item$correct)
  # chisq.test only ever corrects a 2x2 table
  ct <- chisq.test(tab, correct = correct)
  list(correct = correct, n = sum(tab), dim = arr(dim(tab)),
       statistic = num(ct$statistic), df = num(ct$parameter), p = num(ct$p.value),
       min_expected = num(min(ct$expected)))
}

run_fisher <- function(d, item) {
  tab <- crosstab(d, item)
  # network algorithm, exact for any table size; a large workspace so that
  # bigger r x c tables do not fail
  ft <- fisher.test(tab, workspace = 2e7)
  out <- list(n = sum(tab), dim = arr(dim(tab)), p = num(ft$p.value))
  if (all(dim(tab) == 2)) {
    out$odds_ratio_cmle <- num(ft$estimate)     # conditional MLE, not the sample OR
    out$odds_ratio_ci <- arr(ft$conf.int)
  }
  out
}

RUNNERS <- list(km = run_km, logrank = run_logrank, cox = run_cox,
                chisq = run_chisq, fisher = run_fisher)

# ---------------------------------------------------------------------------
# One data set: CSV + spec -> <name>_R.json
# ---------------------------------------------------------------------------

run_one <- function(analysis, d) {
  kind <- analysis$type
  warns <- character(0)
  res <- tryCatch(
    withCallingHandlers({
      runner <- RUNNERS[[kind]]
      if (is.null(runner)) spec_error(sprintf("unknown analysis type '%s'", kind))
      runner(apply_subset(d, analysis$subset), analysis)
    }, warning = function(w) {
      # R's warnings from any step of the analysis (e.g. chisq.test's small
      # expected counts) go into the JSON as "warnings", once each
      warns <<- c(warns, conditionMessage(w))
      invokeRestart("muffleWarning")
    }),
    error = function(e) list(error = conditionMessage(e)))
  out <- c(list(type = kind), res)
  if (length(warns) && is.null(res$error)) out$warnings <- I(unique(warns))
  out
}

make_json <- function(name, csv_dir) {
  csv <- paste0(name, ".csv")
  spec_file <- paste0(name, "_spec.json")
  d <- read.csv(file.path(csv_dir, csv), stringsAsFactors = FALSE, na.strings = c("", "NA"))
  spec <- fromJSON(file.path(script_dir, spec_file), simplifyVector = FALSE)
  if (!is.null(spec$analyses)) spec <- spec$analyses
  out <- list(`_meta` = list(csv = csv, spec = spec_file, rows = nrow(d),
                             R = as.character(getRversion()),
                             survival = as.character(packageVersion("survival"))))
  for (a in names(spec)) out[[a]] <- run_one(spec[[a]], d)
  # 15 significant digits; one-space indentation, one array element a line
  json <- prettify(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", null = "null"),
                   indent = 1)
  path <- file.path(out_dir, paste0(name, "_R.json"))
  # the committed files end at the closing brace, without a newline
  cat(sub("\n+$", "", json), file = path)
  message("wrote ", path)
}

# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

# lung.csv: survival::lung as shipped, plus event = 1 for death (status 2);
# missing values as empty fields.
lung <- survival::lung
lung$event <- as.integer(lung$status == 2)
write.csv(lung, file.path(out_dir, "lung.csv"), row.names = FALSE, na = "")
message("wrote ", file.path(out_dir, "lung.csv"))

make_json("lung", out_dir)       # from the lung.csv just written
make_json("edge", script_dir)    # edge.csv is hand-made and lives beside the script
