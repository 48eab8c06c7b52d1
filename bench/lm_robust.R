# The R baseline for bench/analyse.py: estimatr's lm_robust(outcome ~ arm) with HC2 on the
# benchmark's flat CSV, from a fresh Rscript process (reading the file included).
# Run: Rscript bench/lm_robust.R data.csv   (prints the coefficient table; the caller times it)
# R and estimatr from Debian's packages: apt-get install r-base-core r-cran-estimatr
suppressPackageStartupMessages(library(estimatr))
args <- commandArgs(trailingOnly = TRUE)
data <- read.csv(args[[1]])
fit <- lm_robust(attended ~ arm, data = data, se_type = "HC2")
print(summary(fit)$coefficients[1:3, ])
