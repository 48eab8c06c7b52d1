# Reference values for outcomes that are not yes/no (analysis/stats/continuous.py, ordinal.py,
# counts.py, bounds.py and analysis/measures.py), computed independently in R.
#
# How to run (from the repository root, after
# `uv run python tests/analysis/reference/outcometypes/make_data.py` has written outcomes.csv):
#     Rscript tests/analysis/reference/outcometypes/make_reference.R
# It reads outcomes.csv and writes reference.json beside it, with the versions it ran with.
#
# For each outcome (confidence: a 1-5 scale; contacts: a count; wait_minutes: a measurement),
# complete cases only, control the reference arm, adjusted for court (stratum) and age:
# - each arm's mean: estimatr::lm_robust(y ~ 1) on the arm's rows, HC2, and CR2 by officer;
# - the difference in means: lm_robust(y ~ arm + court + age), HC2, and CR2 by officer;
# - Hedges' g by its published formula (Hedges & Olkin 1985; Borenstein et al. 2009, 4.20-4.24):
#   d = (mean1 - mean0) / s_pooled, J = 1 - 3 / (4 (n1 + n0) - 9), g = J d,
#   var = J^2 ((n1 + n0) / (n1 n0) + d^2 / (2 (n1 + n0))), normal interval; clustered, the
#   interval is the CR2 interval of the adjusted difference times J / s_pooled;
# - confidence: ordinal::clm(ordered(y) ~ arm + court + age) (logit link, the model of
#   MASS::polr, which is fitted too as a check: max |difference| in the JSON), its vcov,
#   normal Wald intervals; clustered, sandwich::vcovCL(fit, cluster = ~officer) (its default
#   there: type HC0 with cadjust G/(G-1)) and t on G - 1 df (as lmtest::coeftest(df = G - 1));
# - contacts: glm(y ~ arm + court + age, family = poisson), sandwich::vcovHC(type = "HC0"),
#   normal intervals; clustered, vcovCL(type = "HC0", cadjust = TRUE) with t on G - 1 df;
# - Lee (2009) bounds, by hand: response = outcome observed, among everyone randomised in the
#   arm; the arm with the higher response rate has the share p = (q_hi - q_lo) / q_hi of its
#   answers' mass trimmed from the top (lower bound) or bottom (upper bound), the boundary
#   value kept with fractional weight (exact for ties); control is trimmed when it responds more.

suppressPackageStartupMessages({
  library(estimatr)
  library(sandwich)
  library(lmtest)
  library(MASS)
  library(ordinal)
  library(jsonlite)
})

here <- "tests/analysis/reference/outcometypes"
d <- read.csv(file.path(here, "outcomes.csv"), colClasses = c(age = "numeric"),
              na.strings = "")
d$arm <- factor(d$arm, levels = c("control", "sms", "letter"))
d$court <- factor(d$court)
treatments <- c("sms", "letter")
alpha <- 0.05

coefs <- function(fit, terms) {
  s <- tidy(fit)
  s <- s[match(terms, s$term), ]
  list(estimate = s$estimate, std_error = s$std.error, df = s$df, p_value = s$p.value,
       ci_low = s$conf.low, ci_high = s$conf.high)
}

arm_means <- function(y, cluster) {
  out <- list()
  for (a in levels(d$arm)) {
    rows <- d$arm == a & !is.na(d[[y]])
    sub <- d[rows, ]
    hc2 <- lm_robust(as.formula(paste(y, "~ 1")), data = sub, se_type = "HC2")
    out[[a]] <- c(list(n = nrow(sub), sd = sd(sub[[y]])), coefs(hc2, "(Intercept)"))
    cr2 <- lm_robust(as.formula(paste(y, "~ 1")), data = sub, clusters = officer,
                     se_type = "CR2")
    out[[a]]$clustered <- coefs(cr2, "(Intercept)")
  }
  out
}

trimmed_mean <- function(v, p, from_top) {
  v <- sort(v, decreasing = from_top)
  n <- length(v)
  before <- (seq_len(n) - 1) / n
  w <- pmax(1 / n - pmax(p - before, 0), 0)
  sum(w * v) / sum(w)
}

lee <- function(y, a) {
  t <- d[d$arm == a, y]
  c0 <- d[d$arm == "control", y]
  q1 <- mean(!is.na(t)); q0 <- mean(!is.na(c0))
  t <- t[!is.na(t)]; c0 <- c0[!is.na(c0)]
  if (q1 >= q0) {
    p <- (q1 - q0) / q1
    bounds <- c(trimmed_mean(t, p, TRUE) - mean(c0), trimmed_mean(t, p, FALSE) - mean(c0))
    who <- "treated"
  } else {
    p <- (q0 - q1) / q0
    bounds <- c(mean(t) - trimmed_mean(c0, p, FALSE), mean(t) - trimmed_mean(c0, p, TRUE))
    who <- "control"
  }
  list(lower = bounds[1], upper = bounds[2], trimmed_share = p, trimmed_arm = who,
       response_treated = q1, response_control = q0)
}

hedges <- function(y, fit_cr2) {
  out <- list()
  for (a in treatments) {
    t <- d[d$arm == a & !is.na(d[[y]]), y]
    c0 <- d[d$arm == "control" & !is.na(d[[y]]), y]
    n1 <- length(t); n0 <- length(c0)
    s <- sqrt(((n1 - 1) * var(t) + (n0 - 1) * var(c0)) / (n1 + n0 - 2))
    j <- 1 - 3 / (4 * (n1 + n0) - 9)
    dd <- (mean(t) - mean(c0)) / s
    g <- j * dd
    se <- sqrt(j^2 * ((n1 + n0) / (n1 * n0) + dd^2 / (2 * (n1 + n0))))
    z <- qnorm(1 - alpha / 2)
    term <- paste0("arm", a)
    ci <- c(fit_cr2$conf.low[term], fit_cr2$conf.high[term])
    out[[a]] <- list(g = g, std_error = se, ci_low = g - z * se, ci_high = g + z * se,
                     clustered_ci_low = unname(j * ci[1] / s),
                     clustered_ci_high = unname(j * ci[2] / s))
  }
  out
}

wald <- function(est, vc, terms, df = NULL) {
  se <- sqrt(diag(vc))[terms]
  b <- est[terms]
  crit <- if (is.null(df)) qnorm(1 - alpha / 2) else qt(1 - alpha / 2, df)
  p <- if (is.null(df)) 2 * pnorm(-abs(b / se)) else 2 * pt(-abs(b / se), df)
  list(log_ratio = unname(b), std_error = unname(se), ratio = unname(exp(b)),
       ci_low = unname(exp(b - crit * se)), ci_high = unname(exp(b + crit * se)),
       p_value = unname(p))
}

arm_terms <- paste0("arm", treatments)
g_clusters <- length(unique(d$officer))
result <- list()
for (y in c("confidence", "contacts", "wait_minutes")) {
  cc <- d[!is.na(d[[y]]), ]
  f <- as.formula(paste(y, "~ arm + court + age"))
  hc2 <- lm_robust(f, data = cc, se_type = "HC2")
  cr2 <- lm_robust(f, data = cc, clusters = officer, se_type = "CR2")
  entry <- list(
    n = nrow(cc),
    arm_means = arm_means(y),
    difference = coefs(hc2, arm_terms),
    difference_clustered = coefs(cr2, arm_terms),
    hedges_g = hedges(y, cr2),
    lee = setNames(lapply(treatments, function(a) lee(y, a)), treatments)
  )
  if (y == "confidence") {
    cc$answer <- factor(cc$confidence, ordered = TRUE)
    # ordinal::clm (Newton steps to a gradient below 1e-10) is the reference; MASS::polr
    # (optim's BFGS, stopping earlier) is the check that both give the same model.
    ck <- clm(answer ~ arm + court + age, data = cc, control = clm.control(gradTol = 1e-10))
    entry$proportional_odds <- wald(coef(ck), vcov(ck), arm_terms)
    entry$proportional_odds_clustered <- wald(coef(ck), vcovCL(ck, cluster = ~officer),
                                              arm_terms, df = length(unique(cc$officer)) - 1)
    entry$cut_points <- unname(ck$alpha)
    po <- polr(answer ~ arm + court + age, data = cc, method = "logistic", Hess = TRUE)
    entry$polr_check_max_abs_difference <- max(abs(coef(ck)[names(coef(po))] - coef(po)))
    entry$distribution <- lapply(split(cc$confidence, cc$arm), function(v)
      as.list(table(factor(v, levels = 1:5))))
  }
  if (y == "contacts") {
    pm <- glm(f, data = cc, family = poisson)
    entry$poisson <- wald(coef(pm), vcovHC(pm, type = "HC0"), arm_terms)
    entry$poisson_clustered <- wald(coef(pm), vcovCL(pm, cluster = ~officer, type = "HC0"),
                                    arm_terms, df = length(unique(cc$officer)) - 1)
  }
  result[[y]] <- entry
}

result$versions <- list(
  R = R.version.string,
  estimatr = as.character(packageVersion("estimatr")),
  sandwich = as.character(packageVersion("sandwich")),
  lmtest = as.character(packageVersion("lmtest")),
  MASS = as.character(packageVersion("MASS")),
  ordinal = as.character(packageVersion("ordinal"))
)
result$clusters <- g_clusters
write_json(result, file.path(here, "reference.json"), digits = NA, auto_unbox = TRUE,
           pretty = TRUE)
