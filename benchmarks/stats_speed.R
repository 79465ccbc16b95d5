# The R half of benchmarks/stats_speed.py: times R's own call on the CSV it wrote; prints one JSON object.
#   Rscript stats_speed.R data.csv task      (task: km, logrank, cox, zph, cif, finegray)
# stats_speed.py starts one R process per call, so that one slow task cannot hold up or skew the others,
# and stops it after --r-timeout seconds. The time is R's system.time of the call alone (not reading the file).
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
