# zph_residuals.R -- R's scaled Schoenfeld residuals for the proportional-hazards plot.
#
#   cd tests/reference && Rscript zph_residuals.R            # writes zph_residuals_R.json here
#   Rscript tests/reference/zph_residuals.R /tmp/out         # or into another folder
#
# Model: coxph(Surv(time, event) ~ age + sex + ph.ecog) on lung.csv (R's survival::lung; Efron ties,
# the rows with a missing ph.ecog dropped as coxph does). Output: cox.zph(fit, transform = "km")$x
# (Kaplan-Meier transform of each death time), $time, $y (scaled Schoenfeld residuals, one column per
# term: the curve plot(cox.zph(fit)) draws), $var (the model's variance), the coefficients and the
# test table, and the smooth plot.cox.zph draws through each column (the fitted values of
# lm(y ~ ns(x, df = 4)), the natural spline of package splines). The tests read the JSON; they
# never run R.
#
# Made for R 4.2.2 with survival 3.5-3 (recorded in _meta). Packages: survival, jsonlite, splines.

suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
  library(splines)
})

script_dir <- local({
  f <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
  f <- gsub("~+~", " ", f, fixed = TRUE)
  if (length(f) == 1) dirname(normalizePath(f)) else getwd()
})
args <- commandArgs(TRUE)
out_dir <- if (length(args) >= 1) args[1] else script_dir
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

lung <- read.csv(file.path(script_dir, "lung.csv"))
fit <- coxph(Surv(time, event) ~ age + sex + ph.ecog, data = lung, ties = "efron")
zph <- cox.zph(fit, transform = "km")

out <- list(
  `_meta` = list(R = R.version.string, survival = as.character(packageVersion("survival")),
                 data = "lung.csv", formula = "Surv(time, event) ~ age + sex + ph.ecog", ties = "efron",
                 transform = "km"),
  coef = as.list(coef(fit)),
  var = unname(fit$var),
  x = unname(zph$x),
  time = unname(zph$time),
  y = lapply(setNames(seq_len(ncol(zph$y)), colnames(zph$y)), function(j) unname(zph$y[, j])),
  smooth = lapply(setNames(seq_len(ncol(zph$y)), colnames(zph$y)),
                  function(j) unname(fitted(lm(zph$y[, j] ~ ns(zph$x, df = 4))))),
  table = lapply(split(as.data.frame(zph$table), rownames(zph$table)), as.list)
)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), file.path(out_dir, "zph_residuals_R.json"))
