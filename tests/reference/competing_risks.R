# competing_risks.R -- R reference for the competing-risks and RMST spec types (cif, finegray, rmst).
#
#   cd tests/reference && Rscript competing_risks.R          # writes here
#   Rscript tests/reference/competing_risks.R /tmp/refout    # writes elsewhere
#
# Writes mgus2.csv (survival::mgus2 with the competing-risks endpoint of the survival vignette:
# etime = months to plasma-cell malignancy or to death/last contact; event 0 censored, 1 PCM,
# 2 death before PCM; agegr a 3-level age group), competing_R.json from competing_spec.json on it,
# competing_bands_R.json (survfit's pointwise band of every curve of analysis by_sex) and rmst_R.json
# from rmst_spec.json on lung.csv (written by make_reference.R).
# Made for R 4.2.2, survival 3.5-3, cmprsk 2.2-11, jsonlite.
#
#   cif       survfit(Surv(time, factor(status)) ~ 1) per group: pstate and std.err (infinitesimal
#             jackknife) at every distinct time; cmprsk::cuminc + timepoints: estimate and var at
#             `times` (NA past the group's largest follow-up time); cuminc()$Tests: Gray's test.
#   finegray  cmprsk::crr(ftime, fstatus, model.matrix(covariates), failcode = cause), defaults.
#   rmst      print(survfit(Surv(time, event) ~ group), rmean = tau): rmean, se(rmean); the
#             difference from the first level: se = sqrt(se_g^2 + se_ref^2), Wald CI, z test.
#             tau null: the smallest of the groups' largest follow-up times.

suppressPackageStartupMessages({
  library(survival)
  library(cmprsk)
  library(jsonlite)
})

script_dir <- local({
  f <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
  f <- gsub("~+~", " ", f, fixed = TRUE)
  if (length(f) == 1) dirname(normalizePath(f)) else getwd()
})
args <- commandArgs(TRUE)
out_dir <- if (length(args) >= 1) args[1] else script_dir
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

num <- function(x) { x <- unname(as.numeric(x)); x[!is.finite(x)] <- NA; x }
arr <- function(x) I(num(x))
sorted_levels <- function(x) as.character(sort(unique(x[!is.na(x)])))

apply_subset <- function(d, subset) {
  if (is.null(subset) || !nzchar(subset)) return(d)
  keep <- rep(TRUE, nrow(d))
  for (cond in strsplit(subset, "&", fixed = TRUE)[[1]]) {
    m <- regmatches(cond, regexec("^\\s*([^\\s=!<>]+)\\s*(==|!=|>=|<=|>|<)\\s*(.+?)\\s*$",
                                  cond, perl = TRUE))[[1]]
    col <- m[2]; op <- m[3]; raw <- gsub("^['\"]|['\"]$", "", m[4])
    x <- d[[col]]
    value <- if (is.numeric(x)) as.numeric(raw) else raw
    if (!is.numeric(x)) x <- as.character(x)
    hit <- get(op)(x, value)
    keep <- keep & !is.na(hit) & hit
  }
  d[keep, , drop = FALSE]
}
need <- function(d, item, fields) {
  cols <- unlist(lapply(fields, function(f) unlist(item[[f]])))
  d[stats::complete.cases(d[, cols, drop = FALSE]), , drop = FALSE]
}

run_cif <- function(d, a) {
  d <- need(d, a, c("time", "status", "group"))
  time <- d[[a$time]]; status <- d[[a$status]]
  grp <- if (is.null(a$group)) rep("all", nrow(d)) else as.character(d[[a$group]])
  levs <- if (is.null(a$group)) "all" else sorted_levels(d[[a$group]])
  causes <- sort(unique(status[status != 0]))
  groups <- list()
  for (g in levs) {
    m <- grp == g
    fit <- survfit(Surv(time[m], factor(status[m], levels = c(0, causes))) ~ 1)
    cs <- list()
    for (k in seq_along(causes))
      cs[[as.character(causes[k])]] <- list(time = arr(fit$time), estimate = arr(fit$pstate[, k + 1]),
                                            std_err = arr(fit$std.err[, k + 1]))
    groups[[g]] <- list(n = sum(m), causes = cs)
  }
  out <- list(type = "cif", causes = I(as.character(causes)), groups = groups)
  ci <- if (is.null(a$group)) cuminc(time, status) else cuminc(time, status, grp)
  if (!is.null(a$times)) {
    tp <- timepoints(ci, unlist(a$times))
    at <- list()
    for (g in levs) for (k in causes) {
      key <- paste(if (is.null(a$group)) "1" else g, k)  # cuminc names an ungrouped curve "1 <cause>"
      at[[paste(g, k)]] <- list(times = arr(sort(unique(unlist(a$times)))), estimate = arr(tp$est[key, ]),
                                var_cmprsk = arr(tp$var[key, ]))
    }
    out$at <- at
  }
  if (!is.null(ci$Tests)) {
    gray <- list()
    for (k in causes) {
      row <- ci$Tests[as.character(k), ]
      gray[[as.character(k)]] <- list(stat = num(row["stat"]), p = num(row["pv"]), df = num(row["df"]))
    }
    out$gray <- gray
  }
  out
}

run_finegray <- function(d, a) {
  d <- need(d, a, c("time", "status", "covariates"))
  for (f in unlist(a$factors)) {
    levs <- sorted_levels(d[[f]])
    r <- if (!is.null(a$ref[[f]])) a$ref[[f]] else levs[1]
    d[[f]] <- factor(as.character(d[[f]]), levels = c(r, setdiff(levs, r)))
  }
  X <- model.matrix(reformulate(unlist(a$covariates)), d)[, -1, drop = FALSE]
  cause <- if (is.null(a$cause)) 1 else a$cause
  fit <- crr(d[[a$time]], d[[a$status]], X, failcode = cause)
  se <- sqrt(diag(fit$var)); z <- fit$coef / se
  terms <- lapply(seq_along(fit$coef), function(j)
    list(name = colnames(X)[j], coef = num(fit$coef[j]), se = num(se[j]), z = num(z[j]),
         p = num(2 * pnorm(-abs(z[j])))))
  list(type = "finegray", n = fit$n, cause = cause, terms = terms, loglik = num(fit$loglik),
       converged = fit$converged)
}

run_rmst <- function(d, a) {
  d <- need(d, a, c("time", "event", "group"))
  g <- d[[a$group]]
  levs <- sorted_levels(g)
  tau <- if (is.null(a$tau)) min(tapply(d[[a$time]], g, max)) else a$tau
  fit <- survfit(Surv(d[[a$time]], d[[a$event]]) ~ g)
  tab <- summary(fit, rmean = tau)$table
  rm <- num(tab[, "rmean"]); se <- num(tab[, "se(rmean)"])
  names(rm) <- names(se) <- levs  # strata come in the order of the sorted levels
  groups <- lapply(levs, function(v) list(rmst = rm[[v]], se = se[[v]])); names(groups) <- levs
  diff <- list()
  for (v in levs[-1]) {
    dd <- rm[[v]] - rm[[levs[1]]]; s <- sqrt(se[[v]]^2 + se[[levs[1]]]^2)
    diff[[v]] <- list(diff = dd, se = s, ci = arr(dd + c(-1, 1) * qnorm(0.975) * s), p = 2 * pnorm(-abs(dd / s)))
  }
  list(type = "rmst", tau = tau, reference = levs[1], groups = groups, diff = diff)
}

run_spec <- function(d, spec, csv, spec_name) {
  out <- list(`_meta` = list(csv = csv, spec = spec_name, rows = nrow(d), R = R.version.string,
                             survival = as.character(packageVersion("survival")),
                             cmprsk = as.character(packageVersion("cmprsk"))))
  runners <- list(cif = run_cif, finegray = run_finegray, rmst = run_rmst)
  for (name in names(spec)) {
    a <- spec[[name]]
    out[[name]] <- runners[[a$type]](apply_subset(d, a$subset), a)
  }
  out
}

write <- function(x, file) writeLines(toJSON(x, auto_unbox = TRUE, digits = NA, na = "null", pretty = 1),
                                      file.path(out_dir, file))

mg <- survival::mgus2
mg$etime <- ifelse(mg$pstat == 0, mg$futime, mg$ptime)
mg$event <- ifelse(mg$pstat == 0, 2 * mg$death, 1)
mg$agegr <- cut(mg$age, c(0, 60, 70, Inf), right = FALSE, labels = c("age_lt60", "age_60to69", "age_ge70"))
mg <- mg[, c("id", "age", "sex", "mspike", "etime", "event", "agegr")]
write.csv(mg, file.path(out_dir, "mgus2.csv"), row.names = FALSE)
mg <- read.csv(file.path(out_dir, "mgus2.csv"))  # what the Python side reads
spec <- fromJSON(file.path(script_dir, "competing_spec.json"), simplifyVector = FALSE)
write(run_spec(mg, spec, "mgus2.csv", "competing_spec.json"), "competing_R.json")

bands <- list()
for (g in sorted_levels(mg$sex)) {
  m <- mg$sex == g
  fit <- survfit(Surv(etime, factor(event)) ~ 1, data = mg[m, ])
  for (k in 1:2) bands[[paste(g, k)]] <- list(conf_type = fit$conf.type, lower = arr(fit$lower[, k + 1]),
                                              upper = arr(fit$upper[, k + 1]))
}
write(bands, "competing_bands_R.json")

lung <- read.csv(file.path(script_dir, "lung.csv"))
spec <- fromJSON(file.path(script_dir, "rmst_spec.json"), simplifyVector = FALSE)
write(run_spec(lung, spec, "lung.csv", "rmst_spec.json"), "rmst_R.json")
