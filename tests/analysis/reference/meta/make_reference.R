# Reference values for the random-effects meta-analysis (analysis/stats/meta.py), computed
# independently with R's metafor package.
#
# How to run (from the repository root):
#     Rscript tests/analysis/reference/meta/make_reference.R
# It reads tests/analysis/reference/meta/trials.csv (hand-written: each scenario is a set of
# trials' risk differences with their standard errors) and writes reference.json beside it.
# The versions it ran with are written into the JSON (`versions`).
#
# For each scenario (2, 3, 5 and 12 trials; homogeneous, heterogeneous, identical estimates):
#   rma(yi, sei = se, method = "REML", test = "knha")   REML tau^2, Hartung-Knapp(-Sidik-Jonkman)
#   rma(yi, sei = se, method = "DL")                    DerSimonian-Laird, z (for comparison)
#   predict(fit_reml)                                   prediction interval: t on k - 1 df,
#                                                       sqrt(tau^2 + SE^2) with the HK SE
# The REML Fisher scoring runs with control = list(threshold = 1e-12, maxiter = 1000) rather
# than metafor's default threshold of 1e-5 on the change in tau^2, so the reference is the
# maximum itself and not metafor's stopping point; Nudge iterates to the same threshold.
# Where full Fisher steps oscillate without converging (metafor stops with "Fisher scoring
# algorithm did not converge"; scenario five_full_steps_oscillate), the fit is repeated with
# metafor's documented remedy, stepadj = 0.5, as Nudge does; `stepadj` records which was used.

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

here <- "tests/analysis/reference/meta"
d <- read.csv(file.path(here, "trials.csv"), stringsAsFactors = FALSE)
control <- list(threshold = 1e-12, maxiter = 1000)

scenario <- function(rows) {
  fit <- function(stepadj) {
    rma(rows$estimate, sei = rows$se, method = "REML", test = "knha",
        control = c(control, list(stepadj = stepadj)))
  }
  stepadj <- 1
  reml <- tryCatch(fit(1), error = function(e) NULL)
  if (is.null(reml)) {
    stepadj <- 0.5
    reml <- fit(0.5)
  }
  dl <- rma(rows$estimate, sei = rows$se, method = "DL")
  pred <- predict(reml)
  list(
    estimate = rows$estimate, se = rows$se, k = reml$k, stepadj = stepadj,
    reml = list(
      tau2 = reml$tau2, estimate = c(reml$beta), se = reml$se, ci_low = reml$ci.lb,
      ci_high = reml$ci.ub, t = reml$zval, df = reml$ddf, p = reml$pval, i2 = reml$I2,
      h2 = reml$H2, pi_low = pred$pi.lb, pi_high = pred$pi.ub
    ),
    dl = list(
      tau2 = dl$tau2, estimate = c(dl$beta), se = dl$se, ci_low = dl$ci.lb,
      ci_high = dl$ci.ub, z = dl$zval, p = dl$pval, i2 = dl$I2
    ),
    q = reml$QE, q_df = reml$k - 1, q_p = reml$QEp
  )
}

out <- list(scenarios = lapply(split(d, factor(d$scenario, levels = unique(d$scenario))), scenario))
out$versions <- list(
  r = R.version.string,
  metafor = as.character(packageVersion("metafor")),
  jsonlite = as.character(packageVersion("jsonlite")),
  call = paste(
    'rma(yi, sei = se, method = "REML", test = "knha", control = list(threshold = 1e-12, maxiter = 1000[, stepadj = 0.5 when full steps do not converge]));',
    'rma(yi, sei = se, method = "DL"); predict(fit_reml)'
  )
)
write_json(out, file.path(here, "reference.json"), digits = NA, auto_unbox = TRUE,
           pretty = TRUE, na = "null")
cat("wrote", file.path(here, "reference.json"), "\n")
