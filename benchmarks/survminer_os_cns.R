# survminer_os_cns.R -- the OS-from-CNS figure drawn by survminer's ggsurvplot, to compare by eye with
# the book's figure (analysis.pages.survival_figure). Not a test: nothing reads its output.
#
#   .venv/bin/python -c "from analysis.cohort import load_cohort; d = load_cohort('data/synthetic_cohort.csv').data; \
#     d[d.cns == 1][['os_from_cns', 'death', 'group']].astype({'group': str}).to_csv('/tmp/os_cns.csv', index=False)"
#   Rscript benchmarks/survminer_os_cns.R /tmp/os_cns.csv /tmp/survminer_os_cns.png
#
# Needs R's survival and survminer (Debian: apt-get install r-cran-survminer).
suppressPackageStartupMessages({ library(survival); library(survminer) })
args <- commandArgs(TRUE)
d <- read.csv(args[1])
d$months <- d$os_from_cns / (365.25 / 12)
fit <- survfit(Surv(months, death) ~ group, data = d)
p <- ggsurvplot(fit, data = d, pval = TRUE, surv.median.line = "hv", risk.table = "nrisk_cumevents",
                break.time.by = 12, xlab = "Months since diagnosis of CNS metastases",
                ylab = "Overall survival", legend.title = "", palette = c("#0072B2", "#D55E00", "#009E73"),
                legend.labs = c("Brain only (B)", "Brain + leptomeningeal (BL)", "Leptomeningeal only (L)"),
                risk.table.height = 0.28, conf.int = FALSE, censor.shape = "|")
png(args[2], width = 6.4, height = 5.6, units = "in", res = 150)
print(p)
invisible(dev.off())
