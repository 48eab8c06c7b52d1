# Reference values for the Nudge statistics layer (analysis/stats), computed independently in R.
#
# How to run (from the repository root, after `uv run python tests/analysis/reference/make_data.py`
# has written trial.csv):
#     Rscript tests/analysis/reference/make_reference.R
# It reads tests/analysis/reference/trial.csv and writes tests/analysis/reference/reference.json.
#
# Produced with: R 4.2.2 Patched (2022-11-10 r83330), estimatr 1.0.0, sandwich 3.0.2,
# lmtest 0.9.40, jsonlite (Debian bookworm packages r-base-core, r-cran-estimatr,
# r-cran-sandwich). Newcombe's hybrid score interval is computed by hand below from the
# Wilson intervals that prop.test(correct = FALSE) returns (Newcombe 1998, method 10).

suppressPackageStartupMessages({
  library(estimatr)
  library(sandwich)
  library(lmtest)
  library(jsonlite)
})

here <- "tests/analysis/reference"
d <- read.csv(file.path(here, "trial.csv"))
d$arm <- factor(d$arm, levels = c("control", "sms", "letter"))
d$role <- factor(d$role, levels = c("victim", "witness", "other"))
d$court <- factor(d$court, levels = c("north", "south", "east"))
d$recv_sms <- as.integer(d$arm == "sms" & d$delivered == 1)
d$recv_letter <- as.integer(d$arm == "letter" & d$delivered == 1)

tidy_estimatr <- function(fit) {
  list(
    term = names(fit$coefficients), estimate = unname(fit$coefficients),
    std_error = unname(fit$std.error), df = unname(fit$df),
    ci_low = unname(fit$conf.low), ci_high = unname(fit$conf.high),
    p_value = unname(fit$p.value)
  )
}

tidy_coeftest <- function(fit, vc, df = Inf) {
  ct <- coeftest(fit, vcov. = vc, df = df)
  ci <- coefci(fit, vcov. = vc, df = df)
  list(
    term = rownames(ct), estimate = unname(ct[, 1]), std_error = unname(ct[, 2]),
    p_value = unname(ct[, 4]), ci_low = unname(ci[, 1]), ci_high = unname(ci[, 2])
  )
}

f_lm <- attended ~ arm + age + prior_fta + role + court
out <- list()
out$lm_hc2 <- tidy_estimatr(lm_robust(f_lm, data = d, se_type = "HC2"))
out$lm_hc1 <- tidy_estimatr(lm_robust(f_lm, data = d, se_type = "HC1"))
out$lm_hc0 <- tidy_estimatr(lm_robust(f_lm, data = d, se_type = "HC0"))
out$lm_cr2 <- tidy_estimatr(lm_robust(f_lm, data = d, clusters = household, se_type = "CR2"))
out$lm_cr0 <- tidy_estimatr(lm_robust(f_lm, data = d, clusters = household, se_type = "CR0"))
out$lm_stata <- tidy_estimatr(lm_robust(f_lm, data = d, clusters = household, se_type = "stata"))
# A second CR2 fit with only the arm (few columns, so leverage patterns differ).
out$lm_cr2_arm_only <- tidy_estimatr(lm_robust(attended ~ arm, data = d, clusters = household))

f_iv <- attended ~ recv_sms + recv_letter + age + prior_fta + role + court |
  arm + age + prior_fta + role + court
out$iv_hc2 <- tidy_estimatr(iv_robust(f_iv, data = d, se_type = "HC2"))
out$iv_cr2 <- tidy_estimatr(iv_robust(f_iv, data = d, clusters = household, se_type = "CR2"))

# A tight convergence tolerance so the reference is the MLE (and its information matrix at
# the MLE) to ~1e-12, not to glm's default 1e-8.
tight <- glm.control(epsilon = 1e-14, maxit = 100)
logit <- glm(f_lm, data = d, family = binomial(), control = tight)
# Clustered: Wald tests and intervals on t with G - 1 df, as Stata (and analysis/stats/logistic.py).
out$logit_cluster_hc1 <- tidy_coeftest(logit, vcovCL(logit, cluster = ~household, type = "HC1"),
                                       df = length(unique(d$household)) - 1)
out$logit_model <- tidy_coeftest(logit, vcov(logit))

# Two-by-two tables: rows (arm, control), columns (events, non-events).
tables <- list(
  kerrison = c(327, 456, 260, 435),
  small = c(3, 10, 1, 12),
  zero_arm = c(0, 50, 5, 60),
  all_arm = c(40, 40, 30, 45),
  sms_vs_control = c(sum(d$attended[d$arm == "sms"]), sum(d$arm == "sms"),
                     sum(d$attended[d$arm == "control"]), sum(d$arm == "control")),
  letter_vs_control = c(sum(d$attended[d$arm == "letter"]), sum(d$arm == "letter"),
                        sum(d$attended[d$arm == "control"]), sum(d$arm == "control"))
)
wilson <- function(x, n) as.numeric(suppressWarnings(prop.test(x, n, correct = FALSE))$conf.int)
out$two_by_two <- lapply(tables, function(t) {
  x1 <- t[1]; n1 <- t[2]; x2 <- t[3]; n2 <- t[4]
  m <- matrix(c(x1, n1 - x1, x2, n2 - x2), nrow = 2, byrow = TRUE)
  w1 <- wilson(x1, n1); w2 <- wilson(x2, n2)
  p1 <- x1 / n1; p2 <- x2 / n2
  res <- list(
    events_arm = x1, n_arm = n1, events_control = x2, n_control = n2,
    fisher_p = fisher.test(m)$p.value,
    rd = p1 - p2,
    newcombe_low = (p1 - p2) - sqrt((p1 - w1[1])^2 + (w2[2] - p2)^2),
    newcombe_high = (p1 - p2) + sqrt((w1[2] - p1)^2 + (p2 - w2[1])^2)
  )
  if (all(c(x1, x2) > 0) && all(c(x1, x2) < c(n1, n2))) {
    res$chisq <- unname(suppressWarnings(chisq.test(m, correct = FALSE))$statistic)
    res$chisq_p <- suppressWarnings(chisq.test(m, correct = FALSE))$p.value
    res$yates_chisq <- unname(suppressWarnings(chisq.test(m, correct = TRUE))$statistic)
    res$yates_p <- suppressWarnings(chisq.test(m, correct = TRUE))$p.value
    res$prop_test_p <- suppressWarnings(prop.test(c(x1, x2), c(n1, n2), correct = FALSE))$p.value
    se_log_rr <- sqrt(1 / x1 - 1 / n1 + 1 / x2 - 1 / n2)
    res$rr <- p1 / p2
    res$rr_low <- exp(log(p1 / p2) - qnorm(0.975) * se_log_rr)
    res$rr_high <- exp(log(p1 / p2) + qnorm(0.975) * se_log_rr)
    g <- glm(cbind(c(x1, x2), c(n1 - x1, n2 - x2)) ~ factor(c(1, 0)), family = binomial(),
             control = glm.control(epsilon = 1e-10))
    res$logit_or <- unname(exp(coef(g)[2]))
    res$logit_or_low <- unname(exp(confint.default(g)[2, 1]))
    res$logit_or_high <- unname(exp(confint.default(g)[2, 2]))
  }
  res
})

cases <- list(c(0, 20), c(20, 20), c(7, 23), c(327, 456), c(1, 1), c(260, 435))
out$wilson <- lapply(cases, function(c) {
  ci <- wilson(c[1], c[2])
  list(events = c[1], n = c[2], ci_low = ci[1], ci_high = ci[2])
})
out$wilson_90 <- lapply(cases, function(c) {
  ci <- as.numeric(suppressWarnings(prop.test(c[1], c[2], correct = FALSE, conf.level = 0.9))$conf.int)
  list(events = c[1], n = c[2], ci_low = ci[1], ci_high = ci[2])
})

p <- c(0.01, 0.04, 0.03, 0.005, 0.20, 0.04, 0.5)
out$p_adjust <- list(
  p = p, holm = p.adjust(p, "holm"), bonferroni = p.adjust(p, "bonferroni"),
  p_with_na = c(0.02, NA, 0.01, 0.3),
  holm_with_na = p.adjust(c(0.02, NA, 0.01, 0.3), "holm")
)

pp <- function(...) power.prop.test(..., tol = 1e-12)
out$power <- list(
  n_cases = lapply(list(c(0.5, 0.6, 0.05, 0.8), c(0.3, 0.25, 0.05, 0.8),
                        c(0.7, 0.8, 0.01, 0.9), c(0.55, 0.60, 0.05, 0.8)), function(a) {
    list(p1 = a[1], p2 = a[2], alpha = a[3], power = a[4],
         n = pp(p1 = a[1], p2 = a[2], sig.level = a[3], power = a[4])$n)
  }),
  p2_cases = lapply(list(c(500, 0.5, 0.05, 0.8), c(2000, 0.6, 0.05, 0.8), c(150, 0.2, 0.05, 0.9)),
                    function(a) {
    list(n = a[1], p1 = a[2], alpha = a[3], power = a[4],
         p2 = pp(n = a[1], p1 = a[2], sig.level = a[3], power = a[4])$p2)
  }),
  power_cases = lapply(list(c(400, 0.5, 0.6, 0.05), c(100, 0.3, 0.2, 0.05)), function(a) {
    list(n = a[1], p1 = a[2], p2 = a[3], alpha = a[4],
         power = pp(n = a[1], p1 = a[2], p2 = a[3], sig.level = a[4])$power)
  })
)

# Bayesian comparisons by numerical integration (independent of the closed form in Python).
beta_cases <- list(c(30, 100, 25, 100), c(0, 10, 0, 10), c(327, 456, 260, 435), c(5, 20, 9, 20))
out$bayes <- lapply(beta_cases, function(a) {
  aa <- 1 + a[1]; ba <- 1 + a[2] - a[1]; ac <- 1 + a[3]; bc <- 1 + a[4] - a[3]
  prob <- integrate(function(x) dbeta(x, aa, ba) * pbeta(x, ac, bc), 0, 1,
                    rel.tol = 1e-12, subdivisions = 2000L)$value
  mean_a <- aa / (aa + ba)
  loss <- integrate(function(x) dbeta(x, ac, bc) *
                      (x * pbeta(x, aa, ba) - mean_a * pbeta(x, aa + 1, ba)), 0, 1,
                    rel.tol = 1e-12, subdivisions = 2000L)$value
  list(events_arm = a[1], n_arm = a[2], events_control = a[3], n_control = a[4],
       prob_better = prob, expected_loss = loss)
})

out$srm <- list(
  counts = c(425, 416, 420), weights = c(1, 1, 1),
  p_value = chisq.test(c(425, 416, 420), p = c(1, 1, 1) / 3)$p.value,
  counts2 = c(1000, 480, 560), weights2 = c(2, 1, 1),
  p_value2 = chisq.test(c(1000, 480, 560), p = c(2, 1, 1) / 4)$p.value
)

out$versions <- list(
  r = R.version.string,
  estimatr = as.character(packageVersion("estimatr")),
  sandwich = as.character(packageVersion("sandwich")),
  lmtest = as.character(packageVersion("lmtest"))
)
write_json(out, file.path(here, "reference.json"), digits = NA, auto_unbox = TRUE,
           pretty = TRUE, na = "null")
cat("wrote", file.path(here, "reference.json"), "\n")
