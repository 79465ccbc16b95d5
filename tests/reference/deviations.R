# deviations.R -- R's answers where the project once differed from R (issue "Statistics past R
# parity"): the pointwise band before a group's first time, coxph(ties = "exact"), aeqSurv's
# merging of times that differ by floating-point noise (KM, log-rank, Cox; coxph on (start, stop]
# rows and pairwise survdiff, issue 18), and fisher.test's network algorithm on r x c tables too
# large to enumerate.
#
#   cd tests/reference && Rscript deviations.R            # writes here
#   Rscript tests/reference/deviations.R /tmp/refout      # writes elsewhere
#
# Writes deviations.csv (the data), deviations_R.json (the analyses of deviations_spec.json, run
# by make_reference.R's runners, which this script loads without running its main part) and
# fisher_R.json (fisher.test(workspace = 2e8) on the tables listed below, with R's timings).
# Made for R 4.2.2 with survival 3.5-3; packages survival, jsonlite.

suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
})

here <- local({
  f <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
  f <- gsub("~+~", " ", f, fixed = TRUE)
  if (length(f) == 1) dirname(normalizePath(f)) else getwd()
})
# make_reference.R's helpers and runners (everything before its "Main" section)
exprs <- parse(file.path(here, "make_reference.R"))
main_at <- which(vapply(exprs, function(e) startsWith(paste(deparse(e), collapse = ""), "lung <-"), TRUE))[1]
for (e in exprs[seq_len(main_at - 1)]) eval(e, globalenv())
# R has no Schoenfeld residuals for an exact fit, so the survival < 3.0 zph (never compared) is null;
# cox.zph itself runs (in Breslow form at the exact estimate)
zph_legacy_of_others <- zph_legacy
zph_legacy <- function(fit) if (fit$method == "exact") NULL else zph_legacy_of_others(fit)
# make_reference's run_km fits each group apart; survfit(Surv ~ group) merges the times of all
# groups together first (aeqSurv over the whole Surv object), which is what is pinned here
run_km_single <- run_km
RUNNERS$km <- function(d, item) {
  d <- need(d, item, c("time", "event", "group"))
  d[[item$time]] <- aeqSurv(Surv(d[[item$time]], d[[item$event]]))[, 1]
  run_km_single(d, item)
}

# coxph on (start, stop] rows: aeqSurv pools start and stop before the fit (as TimeVaryingCox does)
RUNNERS$tvcox <- function(d, item) {
  d <- need(d, item, c("start", "time", "event", "covariates"))
  covs <- unlist(item$covariates)
  ties <- if (is.null(item$ties)) "efron" else item$ties
  lhs <- sprintf("Surv(%s, %s, %s)", item$start, item$time, item$event)
  fit_of <- function(terms) coxph(as.formula(paste(lhs, "~", paste(terms, collapse = " + "))),
                                  data = d, ties = ties, x = TRUE)
  fit <- fit_of(covs)
  cf <- summary(fit)$coefficients
  beta <- coef(fit)
  se <- sqrt(diag(fit$var))
  X <- fit$x
  y <- fit$y
  crit <- qchisq(0.95, 1)
  profile_ll <- function(j, b) {
    off <- b * X[, j]
    rest <- X[, -j, drop = FALSE]
    tail(coxph(y ~ rest + offset(off), ties = ties)$loglik, 1)
  }
  coefficients <- setNames(lapply(seq_along(beta), function(j) {
    g <- function(b) 2 * (fit$loglik[2] - profile_ll(j, b)) - crit
    lo <- uniroot(g, c(beta[j] - 2 * se[j], beta[j]), extendInt = "downX", tol = 1e-12)$root
    hi <- uniroot(g, c(beta[j], beta[j] + 2 * se[j]), extendInt = "upX", tol = 1e-12)$root
    stat <- 2 * (fit$loglik[2] - fit_of(covs[-j])$loglik[2])
    list(coef = num(cf[j, "coef"]), se = num(cf[j, "se(coef)"]), hr = num(cf[j, "exp(coef)"]),
         z = num(cf[j, "z"]), p = num(cf[j, "Pr(>|z|)"]), hr_profile_lower = num(exp(lo)),
         hr_profile_upper = num(exp(hi)), p_lr = pvalue(stat, 1))
  }), names(beta))
  list(ties = ties, n = num(fit$n), nevent = num(fit$nevent), loglik_null = num(fit$loglik[1]),
       loglik = num(fit$loglik[2]), coefficients = coefficients)
}
# survminer's pairwise_survdiff: survdiff on each pair's rows (aeqSurv sees only that pair), p.adjust
RUNNERS$pairwise_logrank <- function(d, item) {
  d <- need(d, item, c("time", "event", "group"))
  levs <- sorted_levels(d[[item$group]])
  pairs <- combn(levs, 2, simplify = FALSE)
  rows <- lapply(pairs, function(ab) {
    sub <- d[d[[item$group]] %in% ab, , drop = FALSE]
    sdif <- survdiff(as.formula(sprintf("Surv(%s, %s) ~ %s", item$time, item$event, item$group)), data = sub)
    df <- length(sdif$n) - 1
    list(group1 = ab[1], group2 = ab[2], chisq = num(sdif$chisq), df = df, p = pvalue(sdif$chisq, df))
  })
  p_adj <- p.adjust(vapply(rows, function(r) r$p, 0), method = item$adjust)
  for (i in seq_along(rows)) rows[[i]]$p_adjusted <- num(p_adj[i])
  list(adjust = item$adjust, pairs = rows)
}

# ---------------------------------------------------------------------------
# deviations.csv: five made-up / derived sets, told apart by "set"
# ---------------------------------------------------------------------------
lung <- survival::lung
# lung30: survival::lung with time in 30-day months (ceiling): 29 death times, up to 16 tied deaths
lung30 <- data.frame(set = "lung30", time = ceiling(lung$time / 30), event = as.integer(lung$status == 2),
                     age = lung$age, sex = lung$sex, ph.ecog = lung$ph.ecog, group = NA)
# noisy: lung30 with every other time multiplied by 1 + 1e-10 (a third of them by 1 - 1e-10), as
# times computed from dates in floating point are: aeqSurv merges them back into ties
k <- seq_len(nrow(lung30))
noise <- ifelse(k %% 2 == 0, 1 + 1e-10, ifelse(k %% 3 == 0, 1 - 1e-10, 1))
noisy <- transform(lung30, set = "noisy", time = time * noise)
# bands: group "a" starts with a censoring (an S = 1 stretch from its first time on), group "b"
# has its first time (a death) at 5, so times 0 .. 4.5 are before it
bands <- data.frame(set = "bands", time = c(1, 2, 3, 4, 5, 6, 7, 8, 5, 6, 7, 9, 10, 12),
                    event = c(0, 0, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1), age = NA, sex = NA, ph.ecog = NA,
                    group = rep(c("a", "b"), c(8, 6)))
# tv: lung30 (known ph.ecog) as (start, stop] rows split at month 6, ph.ecog one grade worse after it
# in every other patient; the split is 6 * (1 - 1e-10) in the first row of a third of the patients
# and the stop times carry noisy's noise: aeqSurv (start and stop pooled) makes them ties again
tv0 <- transform(lung30[!is.na(lung30$ph.ecog), ], k = seq_len(sum(!is.na(lung30$ph.ecog))))
late <- tv0$time > 6
tv_noise <- function(k) ifelse(k %% 2 == 0, 1 + 1e-10, ifelse(k %% 3 == 0, 1 - 1e-10, 1))
first <- transform(tv0, set = "tv", start = 0,
                   time = ifelse(late, 6 * ifelse(k %% 3 == 0, 1 - 1e-10, 1), time * tv_noise(k)),
                   event = ifelse(late, 0L, event))
second <- transform(tv0[late, ], set = "tv", start = 6, time = time * tv_noise(k),
                    ph.ecog = pmin(ph.ecog + (k %% 2), 3))
tv <- rbind(first, second)
tv <- tv[order(tv$k, tv$start), setdiff(names(tv), "k")]
# chain: lung30 (ph.ecog 0-2) in hundreds of 30-day months (mean time about 0.12), group a at t,
# b at t + 1e-8, c at t + 2e-8: pooled, aeqSurv chains all three into ties (gaps 1e-8 <= 1.5e-8);
# a against c alone it does not merge them (2e-8, also relative to the mean); a pairwise test
# must merge within each pair, as survdiff on the pair's rows does
ch <- lung30[!is.na(lung30$ph.ecog) & lung30$ph.ecog <= 2, ]
chain <- transform(ch, set = "chain", group = c("a", "b", "c")[ph.ecog + 1],
                   time = ch$time / 100 + 1e-8 * ch$ph.ecog)
lung30$start <- NA; noisy$start <- NA; bands$start <- NA; chain$start <- NA
dev <- rbind(lung30, noisy, bands, tv, chain)
dev <- dev[, c("set", "start", "time", "event", "age", "sex", "ph.ecog", "group")]
out_dir <- if (length(commandArgs(TRUE))) commandArgs(TRUE)[1] else here
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)
# 17 significant digits so that the noise survives the CSV exactly
dev_out <- dev
dev_out$time <- sprintf("%.17g", dev$time)
write.csv(dev_out, file.path(out_dir, "deviations.csv"), row.names = FALSE, na = "", quote = FALSE)
message("wrote ", file.path(out_dir, "deviations.csv"))
script_dir <- here   # make_json reads the spec from here and writes to out_dir
make_json("deviations", out_dir)

# ---------------------------------------------------------------------------
# fisher_R.json: exact r x c tests by FEXACT, workspace = 2e8, and R's time for each
# ---------------------------------------------------------------------------
tables <- list(
  t3x3_n906 = matrix(c(310, 12, 6, 280, 20, 9, 250, 14, 5), 3, byrow = TRUE),
  t3x3_n906_even = matrix(c(120, 80, 97, 110, 105, 92, 89, 101, 112), 3, byrow = TRUE),
  t2x5_n200 = matrix(c(25, 18, 22, 14, 21, 15, 22, 20, 28, 15), 2, byrow = TRUE),
  t2x5_n600 = matrix(c(70, 55, 66, 42, 63, 45, 66, 60, 84, 49), 2, byrow = TRUE),
  t4x4_n80 = matrix(c(8, 3, 5, 4, 2, 7, 6, 5, 6, 4, 3, 7, 5, 6, 4, 5), 4, byrow = TRUE),
  t4x4_n160 = matrix(c(16, 6, 10, 8, 4, 14, 12, 10, 12, 8, 6, 14, 10, 12, 8, 10), 4, byrow = TRUE),
  t3x4_zeros = matrix(c(0, 3, 9, 1, 4, 0, 2, 7, 5, 6, 0, 0), 3, byrow = TRUE),
  t2x10_n100 = matrix(c(3, 7, 4, 6, 5, 2, 8, 4, 6, 5, 7, 3, 6, 4, 5, 8, 2, 6, 4, 5), 2, byrow = TRUE),
  t5x5_n50 = matrix(c(4, 1, 2, 0, 3, 1, 3, 2, 2, 1, 2, 2, 3, 1, 2, 0, 2, 1, 4, 3, 3, 2, 1, 2, 3), 5, byrow = TRUE),
  t2x2 = matrix(c(12, 5, 3, 14), 2, byrow = TRUE),
  # ECOG by group in a 1,000-patient synthetic cohort ("5 x 3, n = 300" in issue 18; n = 261 known):
  # 6.3e9 tables, FEXACT's slowest here (~13 s on an idle machine)
  t5x3_n261 = matrix(c(54, 5, 1, 66, 8, 7, 45, 14, 19, 12, 3, 9, 8, 3, 7), 5, byrow = TRUE)
)
fisher_out <- list(`_meta` = list(R = as.character(getRversion()), workspace = 2e8,
                                   timing = "elapsed seconds, median of 3 runs, this machine"))
for (nm in names(tables)) {
  tb <- tables[[nm]]
  ft <- fisher.test(tb, workspace = 2e8)
  runs <- replicate(3, system.time(fisher.test(tb, workspace = 2e8))[["elapsed"]])
  fisher_out[[nm]] <- list(table = lapply(seq_len(nrow(tb)), function(i) I(tb[i, ])),
                           n = sum(tb), p = num(ft$p.value), seconds = median(runs))
}
# a table beyond FEXACT with workspace 2e8: R refuses it; so does the project (its own limit)
big <- matrix(c(40, 31, 28, 35, 30, 33, 29, 36, 31, 27, 30, 34, 38, 29, 32, 33, 30, 31, 28, 35,
                36, 29, 33, 30, 31), 5, byrow = TRUE)
fisher_out$refused_5x5_n800 <- list(table = lapply(1:5, function(i) I(big[i, ])), n = sum(big),
                                    error = tryCatch({fisher.test(big, workspace = 2e8); NULL},
                                                     error = function(e) conditionMessage(e)))
json <- prettify(toJSON(fisher_out, auto_unbox = TRUE, digits = NA, na = "null", null = "null"), indent = 1)
cat(sub("\n+$", "", json), file = file.path(out_dir, "fisher_R.json"))
message("wrote ", file.path(out_dir, "fisher_R.json"))
