# Reference values for the design of a trial whose primary outcome is a mean (a scale, count or
# measurement): analysis/stats/power.py power_two_means, sample_size_two_means and
# minimum_detectable_standardised, computed independently in base R.
#
# How to run (from the repository root):
#     Rscript tests/analysis/reference/outcometypes/make_means_power_reference.R
# It writes means_power_reference.json beside it, with the R version.
#
# Equal arms: stats::power.t.test(type = "two.sample", strict = FALSE, sd = 1), solving for n,
# power or delta with tol = 1e-12 (its default tolerance, about 1e-4, is too loose to compare).
# Unequal arms (n0 in control, n1 = ratio n0 in the arm), which power.t.test does not do: the
# same noncentral t written out in base R, df = n0 + n1 - 2, ncp = d / sqrt(1/n0 + 1/n1),
# power = pt(qt(1 - alpha/2, df), df, ncp, lower.tail = FALSE), solved with uniroot (tol 1e-12).
# With ratio 1 the written-out formula is checked against power.t.test too.

suppressPackageStartupMessages(library(jsonlite))

here <- "tests/analysis/reference/outcometypes"
tol <- 1e-12

t_power <- function(n0, d, alpha, ratio) {
  n1 <- ratio * n0
  df <- n0 + n1 - 2
  pt(qt(1 - alpha / 2, df), df, d / sqrt(1 / n0 + 1 / n1), lower.tail = FALSE)
}

cases <- list(
  list(d = 0.25, alpha = 0.05, power = 0.8, ratio = 1),
  list(d = 0.5, alpha = 0.05, power = 0.9, ratio = 1),
  list(d = 0.3 / 1.2, alpha = 0.05, power = 0.8, ratio = 2),
  list(d = 0.2, alpha = 0.01, power = 0.8, ratio = 0.5),
  list(d = 1.5, alpha = 0.05, power = 0.8, ratio = 1)
)
sizes <- lapply(cases, function(k) {
  n <- uniroot(function(n0) t_power(n0, k$d, k$alpha, k$ratio) - k$power,
               c(2, 1e7), tol = tol)$root
  if (k$ratio == 1) {
    r <- power.t.test(delta = k$d, sd = 1, sig.level = k$alpha, power = k$power, tol = tol)
    k$power_t_test_n <- r$n
  }
  c(k, list(n_exact = n))
})

powers <- lapply(list(
  list(n = 64, d = 0.5, alpha = 0.05, ratio = 1),
  list(n = 200, d = 0.25, alpha = 0.05, ratio = 1),
  list(n = 150, d = 0.3, alpha = 0.05, ratio = 2),
  list(n = 40, d = 0.4, alpha = 0.01, ratio = 1.5)
), function(k) {
  out <- c(k, list(power = t_power(k$n, k$d, k$alpha, k$ratio)))
  if (k$ratio == 1) {
    out$power_t_test <- power.t.test(n = k$n, delta = k$d, sd = 1, sig.level = k$alpha)$power
  }
  out
})

detectable <- lapply(list(
  list(n = 100, alpha = 0.05, power = 0.8, ratio = 1),
  list(n = 250, alpha = 0.05, power = 0.9, ratio = 1),
  list(n = 120, alpha = 0.05, power = 0.8, ratio = 1.5)
), function(k) {
  d <- uniroot(function(d) t_power(k$n, d, k$alpha, k$ratio) - k$power, c(1e-6, 50),
               tol = tol)$root
  out <- c(k, list(d = d))
  if (k$ratio == 1) {
    out$power_t_test_delta <- power.t.test(n = k$n, sd = 1, sig.level = k$alpha,
                                           power = k$power, tol = tol)$delta
  }
  out
})

write_json(list(sample_sizes = sizes, powers = powers, detectable = detectable,
                provenance = list(
                  script = "tests/analysis/reference/outcometypes/make_means_power_reference.R",
                  R = R.version.string)),
           file.path(here, "means_power_reference.json"), digits = NA, auto_unbox = TRUE,
           pretty = TRUE)
