# deviations.R -- R's answers where the project once differed from R (issue "Statistics past R
# parity"): the pointwise band before a group's first time, coxph(ties = "exact"), aeqSurv's
# merging of times that differ by floating-point noise, and fisher.test's network algorithm on
# r x c tables too large to enumerate.
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

# ---------------------------------------------------------------------------
# deviations.csv: three made-up / derived sets, told apart by "set"
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
dev <- rbind(lung30, noisy, bands)
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
  t2x2 = matrix(c(12, 5, 3, 14), 2, byrow = TRUE)
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
