# The primer's "R" tabs: R's survival package on the ten-patient toy table, run once by hand
#   Rscript book/primer/r/primer_reference.R        (from the repository root)
# It writes primer_R.json beside itself: for each computation the code shown on the page and the
# text R printed, plus the numbers the page compares with the package and lifelines.
# The book never runs R: it reads this file (R's output is reference data, like tests/reference).
suppressPackageStartupMessages({library(survival); library(jsonlite)})
here <- dirname(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))
# the same table as analysis.pages.toy_table()
toy <- data.frame(patient = 1:10, months = c(2, 3, 3, 5, 6, 6, 8, 9, 11, 12),
                  death = c(1, 1, 0, 1, 1, 1, 0, 1, 0, 0),
                  arm = c("A", "A", "B", "B", "A", "B", "A", "B", "A", "B"))
run <- function(code) {
  env <- new.env(); env$toy <- toy
  # print.eval: each top-level value is printed as at the R prompt
  printed <- capture.output(source(textConnection(code), local = env, echo = FALSE, print.eval = TRUE))
  list(code = code, output = paste(printed, collapse = "\n"), env = env)
}
km <- run('fit <- survfit(Surv(months, death) ~ 1, data = toy)
summary(fit)
print(fit)')
s <- summary(km$env$fit)
km_numbers <- list(time = s$time, n_risk = s$n.risk, n_event = s$n.event, surv = s$surv,
                   std_err = s$std.err, lower = s$lower, upper = s$upper,
                   median = unname(summary(km$env$fit)$table["median"]),
                   median_lower = unname(summary(km$env$fit)$table["0.95LCL"]),
                   median_upper = unname(summary(km$env$fit)$table["0.95UCL"]))
lr <- run('test <- survdiff(Surv(months, death) ~ arm, data = toy)
test')
lr_numbers <- list(chisq = lr$env$test$chisq, observed = unname(lr$env$test$obs),
                   expected = unname(lr$env$test$exp),
                   p = pchisq(lr$env$test$chisq, 1, lower.tail = FALSE))
cx <- run('model <- coxph(Surv(months, death) ~ arm, data = toy)  # Efron ties, R\'s default
summary(model)')
cs <- summary(cx$env$model)
cx_numbers <- list(coef = unname(coef(cx$env$model)), hr = unname(exp(coef(cx$env$model))),
                   lower = unname(cs$conf.int[, "lower .95"]), upper = unname(cs$conf.int[, "upper .95"]),
                   p_wald = unname(cs$coefficients[, "Pr(>|z|)"]), p_lr = unname(cs$logtest["pvalue"]))
na <- run('fit <- survfit(Surv(months, death) ~ 1, data = toy)
data.frame(time = fit$time, n.risk = fit$n.risk, n.event = fit$n.event, cumhaz = fit$cumhaz)')
na_numbers <- list(time = na$env$fit$time, cumhaz = na$env$fit$cumhaz)
rm <- run('fit <- survfit(Surv(months, death) ~ arm, data = toy)
print(fit, rmean = 10)')
rm_tab <- summary(rm$env$fit, rmean = 10)$table
rm_numbers <- list(group = sub("arm=", "", rownames(rm_tab)), rmean = unname(rm_tab[, "rmean"]),
                   se = unname(rm_tab[, "se(rmean)"]), tau = 10)
strip <- function(x) list(code = x$code, output = x$output)
out <- list(r_version = R.version.string, survival_version = as.character(packageVersion("survival")),
            km = c(strip(km), list(numbers = km_numbers)),
            logrank = c(strip(lr), list(numbers = lr_numbers)),
            cox = c(strip(cx), list(numbers = cx_numbers)),
            nelson_aalen = c(strip(na), list(numbers = na_numbers)),
            rmst = c(strip(rm), list(numbers = rm_numbers)))
write_json(out, file.path(here, "primer_R.json"), auto_unbox = TRUE, digits = NA, pretty = TRUE)
