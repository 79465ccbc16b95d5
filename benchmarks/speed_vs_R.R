# Times R's own calls on a CSV written by benchmarks/speed_vs_R.py; prints one JSON object of seconds.
#   Rscript speed_vs_R.R data.csv task      (task: km, logrank, cox, zph, cif, finegray)
# Each call runs in its own R process so that one slow task cannot hold up or skew the others.
suppressMessages({library(survival); library(cmprsk); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
task <- args[2]
d$group <- factor(d$group)
elapsed <- function(expr) unname(system.time(expr)["elapsed"])
seconds <- switch(task,
  km = elapsed(summary(survfit(Surv(time, event) ~ group, data = d, conf.type = "log-log"))$table),
  logrank = elapsed(survdiff(Surv(time, event) ~ group, data = d)),
  cox = elapsed(coxph(Surv(time, event) ~ age + x + group, data = d, ties = "efron")),
  zph = {
    fit <- coxph(Surv(time, event) ~ age + x + group, data = d, ties = "efron")
    elapsed(cox.zph(fit, transform = "km"))
  },
  cif = elapsed(cuminc(d$time, d$status, d$group, cencode = 0)),
  finegray = {
    X <- model.matrix(~ age + x + group, data = d)[, -1]
    elapsed(crr(d$time, d$status, X, failcode = 1, cencode = 0))
  },
  stop("unknown task ", task))
cat(toJSON(list(task = task, n = nrow(d), seconds = seconds, R = R.version.string,
                survival = as.character(packageVersion("survival")),
                cmprsk = as.character(packageVersion("cmprsk"))), auto_unbox = TRUE), "\n")
