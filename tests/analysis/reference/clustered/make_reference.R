# Reference values for the cluster-robust summaries of the Nudge report (issue #15, item 4, 9
# and missing outcomes by arm), computed independently of the project in R.
#
# How to run (from the repository root):
#     Rscript tests/analysis/reference/clustered/make_reference.R
# It writes clustered.csv (the data, made here with a fixed seed) and clustered.json beside
# this script. The Python tests read both and never call R.
#
# Produced with: R 4.2.2 Patched (2022-11-10 r83330), survey 4.1.1, estimatr 1.0.0,
# sandwich 3.0.2, jsonlite 1.8.4 (Debian bookworm packages r-base-core, r-cran-survey,
# r-cran-estimatr, r-cran-sandwich, r-cran-jsonlite).
#
# The design: households ("units") are randomised to control, sms or letter; the letter arm
# has only 8 units so small-sample corrections matter. Outcomes are missing for some people
# (more often in the letter arm). Every figure below uses the complete cases of the outcome.
# Clusters are nested in arms, so designs use strata = arm: each arm's variance has the
# factor G_a / (G_a - 1) of its own G_a units.

suppressPackageStartupMessages({
  library(survey)
  library(estimatr)
  library(sandwich)
  library(jsonlite)
})
options(digits = 17)
here <- "tests/analysis/reference/clustered"

# ---- the data -------------------------------------------------------------------------------
RNGkind("Mersenne-Twister", "Inversion", "Rejection")
set.seed(20270115)
units <- c(control = 40, sms = 30, letter = 8)
unit_arm <- rep(names(units), units)
unit_size <- sample(1:5, length(unit_arm), replace = TRUE, prob = c(0.3, 0.25, 0.2, 0.15, 0.1))
unit_effect <- rnorm(length(unit_arm), 0, 0.9)
unit_id <- sprintf("H%03d", seq_along(unit_arm))
d <- data.frame(
  unit = rep(unit_id, unit_size),
  arm = rep(unit_arm, unit_size),
  u = rep(unit_effect, unit_size)
)
shift <- c(control = 0, sms = 0.5, letter = 0.3)
d$attended <- rbinom(nrow(d), 1, plogis(0.1 + shift[d$arm] + d$u))
lose <- c(control = 0.06, sms = 0.08, letter = 0.25)
d$attended[runif(nrow(d)) < lose[d$arm]] <- NA
d$u <- NULL
write.csv(d, file.path(here, "clustered.csv"), row.names = FALSE, na = "")

d$arm <- factor(d$arm, levels = c("control", "sms", "letter"))
cc <- d[!is.na(d$attended), ]
alpha <- 0.05
z <- qnorm(1 - alpha / 2)
out <- list(alpha = alpha)

# ---- missing outcomes by arm and the extreme-case bounds ------------------------------------
missing <- list()
for (a in levels(d$arm)) {
  rows <- d[d$arm == a, ]
  missing[[a]] <- list(
    randomised = nrow(rows), observed = sum(!is.na(rows$attended)),
    missing = sum(is.na(rows$attended)), share = mean(is.na(rows$attended))
  )
}
out$missing <- missing
bound <- function(a, fill_arm, fill_control) {
  arm <- d$attended[d$arm == a]
  ctl <- d$attended[d$arm == "control"]
  arm[is.na(arm)] <- fill_arm
  ctl[is.na(ctl)] <- fill_control
  mean(arm) - mean(ctl)
}
out$bounds <- lapply(c(sms = "sms", letter = "letter"), function(a) {
  list(best = bound(a, 1, 0), worst = bound(a, 0, 1))
})

# ---- per-arm rates: cluster-robust variance, design effect, Korn-Graubard Wilson ------------
# svymean on the arm's own cluster design gives V = G/(G-1) sum_g (t_g - p m_g)^2 / n^2.
# Design effect deff = V / (p(1-p)/n), floored at 1; effective n = n / deff, and with the
# degrees-of-freedom correction of Korn & Graubard (1998), n* = n_eff (z / t_{G-1})^2.
# Wilson's interval is then evaluated at (x* = p n*, n*), written out by hand.
wilson <- function(p, n, z) {
  centre <- (p * n + z^2 / 2) / (n + z^2)
  half <- z * sqrt(n) / (n + z^2) * sqrt(p * (1 - p) + z^2 / (4 * n))
  c(max(0, centre - half), min(1, centre + half))
}
arms <- list()
for (a in levels(d$arm)) {
  rows <- cc[cc$arm == a, ]
  des <- svydesign(ids = ~unit, data = rows)
  m <- svymean(~attended, des)
  p <- unname(coef(m))
  v <- unname(vcov(m)[1, 1])
  n <- nrow(rows)
  g <- length(unique(rows$unit))
  deff_raw <- v / (p * (1 - p) / n)
  deff <- max(1, deff_raw)
  n_eff <- n / deff
  n_star <- n_eff * (z / qt(1 - alpha / 2, g - 1))^2
  ci <- wilson(p, n_star, z)
  arms[[a]] <- list(
    n = n, events = sum(rows$attended), clusters = g, rate = p, variance = v,
    design_effect_raw = deff_raw, design_effect = deff, effective_n = n_eff,
    ci_low = ci[1], ci_high = ci[2]
  )
}
out$arms <- arms

# ---- unadjusted differences: CR2 without covariates (estimatr), Bell-McCaffrey df ------------
fit <- lm_robust(attended ~ arm, data = cc, clusters = unit, se_type = "CR2")
out$cr2_difference <- lapply(c(sms = "armsms", letter = "armletter"), function(term) {
  list(
    estimate = unname(fit$coefficients[term]), std_error = unname(fit$std.error[term]),
    df = unname(fit$df[term]), ci_low = unname(fit$conf.low[term]),
    ci_high = unname(fit$conf.high[term]), p_value = unname(fit$p.value[term])
  )
})

# ---- Rao-Scott corrected chi-square (svychisq, F form) and the risk ratio (svyglm) ----------
two_arm <- function(a) {
  rows <- cc[cc$arm %in% c(a, "control"), ]
  rows$arm <- droplevels(rows$arm)
  svydesign(ids = ~unit, strata = ~arm, data = rows)
}
out$rao_scott <- lapply(c(sms = "sms", letter = "letter"), function(a) {
  des <- two_arm(a)
  test <- svychisq(~attended + arm, des, statistic = "F")
  plain <- suppressWarnings(chisq.test(table(des$variables$attended, des$variables$arm),
                                       correct = FALSE))
  list(
    pearson = unname(plain$statistic), statistic = unname(test$statistic),
    design_effect = unname(plain$statistic / test$statistic),
    ndf = unname(test$parameter["ndf"]), ddf = unname(test$parameter["ddf"]),
    p_value = unname(test$p.value)
  )
})
# log RR from a quasi-Poisson svyglm on the same design; the interval uses t on the design's
# degrees of freedom (units in both arms minus the two strata).
out$risk_ratio <- lapply(c(sms = "sms", letter = "letter"), function(a) {
  des <- two_arm(a)
  rr <- svyglm(attended ~ arm, design = des, family = quasipoisson())
  term <- paste0("arm", a)
  if (!term %in% names(coef(rr))) term <- names(coef(rr))[2]
  est <- unname(coef(rr)[term])
  # svyglm puts the first level (alphabetical after droplevels) as reference: make it control
  lev <- levels(des$variables$arm)
  sign <- if (lev[1] == "control") 1 else -1
  se <- sqrt(unname(vcov(rr)[term, term]))
  df <- degf(des)
  crit <- qt(1 - alpha / 2, df)
  list(
    estimate = exp(sign * est), log_se = se, df = df,
    ci_low = exp(sign * est - crit * se), ci_high = exp(sign * est + crit * se)
  )
})

# ---- Bayesian probability to beat control from effective counts -----------------------------
# Beta(1 + x/deff, 1 + (n - x)/deff) posteriors, deff each arm's floored design effect.
# P(p_arm > p_control) and the expected loss E[max(p_control - p_arm, 0)] by numerical
# integration (E[(p_c - x)^+] = m_c P(Beta(a_c + 1, b_c) > x) - x P(Beta(a_c, b_c) > x)).
posterior <- function(a) {
  s <- arms[[a]]
  c(1 + s$events / s$design_effect, 1 + (s$n - s$events) / s$design_effect)
}
out$bayes <- lapply(c(sms = "sms", letter = "letter"), function(a) {
  pa <- posterior(a)
  pc <- posterior("control")
  tight <- function(f) integrate(f, 0, 1, rel.tol = 1e-12, abs.tol = 0, subdivisions = 1000L)$value
  prob <- tight(function(x) dbeta(x, pa[1], pa[2]) * pbeta(x, pc[1], pc[2]))
  mc <- pc[1] / sum(pc)
  loss <- tight(function(x) dbeta(x, pa[1], pa[2]) *
    (mc * pbeta(x, pc[1] + 1, pc[2], lower.tail = FALSE) - x * pbeta(x, pc[1], pc[2], lower.tail = FALSE)))
  list(a_arm = pa[1], b_arm = pa[2], a_control = pc[1], b_control = pc[2],
       prob_better = prob, expected_loss = loss)
})

# ---- the observed ICC (one-way ANOVA estimator, arms as fixed effects) ----------------------
# MSB: between units within arms; MSW: within units. m0 = (N - sum_a sum_g m_g^2 / n_a) / (G - A).
# ICC = (MSB - MSW) / (MSB + (m0 - 1) MSW) (Donner & Koval 1980; Searle et al. 1992).
tab <- anova(lm(attended ~ arm + factor(unit), data = cc))
msb <- tab["factor(unit)", "Mean Sq"]
msw <- tab["Residuals", "Mean Sq"]
sizes <- table(cc$unit)
unit_arm_cc <- cc$arm[match(names(sizes), cc$unit)]
n_a <- table(cc$arm)[as.character(unit_arm_cc)]
g_total <- length(sizes)
m0 <- (nrow(cc) - sum(as.numeric(sizes)^2 / as.numeric(n_a))) / (g_total - nlevels(cc$arm))
icc <- (msb - msw) / (msb + (m0 - 1) * msw)
m_tilde <- sum(as.numeric(sizes)^2) / sum(as.numeric(sizes))
out$icc <- list(msb = msb, msw = msw, m0 = m0, icc = icc, size_weighted_mean = m_tilde,
                design_effect = 1 + (m_tilde - 1) * max(0, icc))

# ---- power with unequal allocation and a design effect --------------------------------------
# Power of the two-sided two-proportion z test with n_c in control and r n_c in the arm
# (the unequal-n form of power.prop.test's formula), solved by uniroot, not by a closed form.
power_fn <- function(n_c, p1, p2, r, alpha) {
  n_t <- r * n_c
  pbar <- (n_c * p1 + n_t * p2) / (n_c + n_t)
  null_sd <- sqrt(pbar * (1 - pbar) * (1 / n_c + 1 / n_t))
  alt_sd <- sqrt(p1 * (1 - p1) / n_c + p2 * (1 - p2) / n_t)
  pnorm((abs(p2 - p1) - qnorm(1 - alpha / 2) * null_sd) / alt_sd)
}
solve_n <- function(p1, delta, r, alpha, power) {
  uniroot(function(n) power_fn(n, p1, p1 + delta, r, alpha) - power,
          c(2, 1e7), tol = 1e-12)$root
}
solve_mde <- function(n_c, p1, r, alpha, power) {
  uniroot(function(p2) power_fn(n_c, p1, p2, r, alpha) - power,
          c(p1 + 1e-10, 1 - 1e-10), tol = 1e-14)$root - p1
}
out$power <- list(
  equal = list(baseline = 0.75, effect = 0.05, ratio = 1, n_control = solve_n(0.75, 0.05, 1, 0.05, 0.8),
               power_prop_test = power.prop.test(p1 = 0.75, p2 = 0.8, power = 0.8)$n),
  half = list(baseline = 0.75, effect = 0.05, ratio = 0.5, n_control = solve_n(0.75, 0.05, 0.5, 0.05, 0.8)),
  double = list(baseline = 0.6, effect = 0.1, ratio = 2, n_control = solve_n(0.6, 0.1, 2, 0.05, 0.8)),
  mde_unequal = list(n_control = 300, ratio = 0.5, baseline = 0.7,
                     effect = solve_mde(300, 0.7, 0.5, 0.05, 0.8)),
  mde_clustered = list(n_control = 300 / 1.6, ratio = 1, baseline = 0.7, design_effect = 1.6,
                       effect = solve_mde(300 / 1.6, 0.7, 1, 0.05, 0.8))
)

# ---- Holm and Bonferroni over the pre-registered family (one comparison not estimable) ------
out$holm_family <- list(
  p = c(0.012, 0.03), family = 3,
  holm = p.adjust(c(0.012, NA, 0.03), "holm", n = 3)[c(1, 3)],
  bonferroni = p.adjust(c(0.012, NA, 0.03), "bonferroni", n = 3)[c(1, 3)]
)

writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), file.path(here, "clustered.json"))
