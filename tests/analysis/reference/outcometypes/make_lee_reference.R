# Reference values for the interval of the Lee (2009) bounds (analysis/stats/bounds.py),
# computed independently in R from the papers' formulas, with a bootstrap as a cross-check.
# No R package for Lee bounds is installed here, so this is written from:
#   Lee DS (2009) Training, wages, and sample selection: estimating sharp bounds on treatment
#   effects. Review of Economic Studies 76:1071-1102 (Proposition 1, the trimmed means;
#   Proposition 3, their asymptotic variances);
#   Imbens GW, Manski CF (2004) Confidence intervals for partially identified parameters.
#   Econometrica 72:1845-1857 (the interval for the parameter, C_n solving
#   Phi(C + width / max(se)) - Phi(-C) = 1 - alpha);
#   with the two-sided critical value when the bounds are near-equal: width within sqrt(ln n)
#   of the larger standard error (Stoye 2009; Andrews and Soares 2010, kappa_n = sqrt(ln n)).
#
# How to run (from the repository root; reads outcomes.csv, which make_data.py writes):
#     Rscript tests/analysis/reference/outcometypes/make_lee_reference.R
# It writes lee_reference.json beside it, with the R version, the seed and the bootstrap size.
#
# Trimming here is written as an integral of the empirical quantile function Q (type 1, a step
# function): the trimmed arm's kept mass is the interval (p, 1] of u (trimming the bottom) or
# [0, 1 - p) (trimming the top), each answer of the sorted sample owning ((i - 1)/n, i/n], so
# its weight is the length of its overlap with the kept interval (exact with ties). The kept
# mean and variance are the weighted mean and the weighted second central moment (divisor: the
# kept mass); the boundary answer y_p is Q just inside the kept interval, the
# (floor(n p + 1e-9) + 1)-th answer counted from the trimmed end.
#
# Lee's Proposition 3, written per person randomised (n = n1 + n0, pi = n1 / n, S = answered):
#   V_UB = sigma2_UB / (E[S|D=1] (1 - p) pi) + (y_p - mu_UB)^2 p / (E[S|D=1] (1 - p) pi)
#        + ((y_p - mu_UB) / (1 - p))^2 V_p,
#   V_p  = (1 - p)^2 ((1 - E[S|D=0]) / (E[S|D=0] (1 - pi)) + (1 - E[S|D=1]) / (E[S|D=1] pi)),
#   V_C  = sigma2_C / (E[S|D=0] (1 - pi)),
# and se(bound) = sqrt((V_bound + V_C) / n); the same with the arms' roles swapped when control
# answers more (control is then trimmed). Equal response rates: no trimming, the bounds are
# the difference in means with sqrt(var1 / r1 + var0 / r0).
#
# Bootstrap: B resamples within each arm of everyone randomised (answered or not), the bounds
# recomputed on each (the trimmed arm and share re-estimated too); the standard deviation of
# each bound over the resamples estimates its standard error.

suppressPackageStartupMessages(library(jsonlite))

here <- "tests/analysis/reference/outcometypes"
d <- read.csv(file.path(here, "outcomes.csv"), na.strings = "")
treatments <- c("sms", "letter")
alpha <- 0.05
seed <- 20261206
B <- 4000

kept <- function(v, p, from_top) {
  v <- sort(v, decreasing = from_top)
  n <- length(v)
  lo <- (seq_len(n) - 1) / n
  hi <- seq_len(n) / n
  w <- pmax(0, pmin(hi, 1) - pmax(lo, p))  # overlap of each answer's ((i-1)/n, i/n] with (p, 1]
  m <- sum(w * v) / sum(w)
  list(mean = m, var = sum(w * (v - m)^2) / sum(w), edge = v[floor(n * p + 1e-9) + 1])
}

mom_var <- function(v) mean((v - mean(v))^2)

bounds <- function(t_all, c_all) {
  q1 <- mean(!is.na(t_all)); q0 <- mean(!is.na(c_all))
  t <- t_all[!is.na(t_all)]; c0 <- c_all[!is.na(c_all)]
  n1 <- length(t_all); n0 <- length(c_all)
  if (q1 == q0) {
    est <- mean(t) - mean(c0)
    se <- sqrt(mom_var(t) / length(t) + mom_var(c0) / length(c0))
    return(list(lower = est, upper = est, se = c(se, se), p = 0, who = "none",
                q1 = q1, q0 = q0, n = n1 + n0))
  }
  n <- n1 + n0
  pi1 <- n1 / n
  if (q1 > q0) {
    p <- 1 - q0 / q1
    lo <- kept(t, p, TRUE); up <- kept(t, p, FALSE)
    s_trim <- q1; share_trim <- pi1; s_other <- q0; share_other <- 1 - pi1
    v_other <- mom_var(c0) / (q0 * (1 - pi1))
    lower <- lo$mean - mean(c0); upper <- up$mean - mean(c0)
    who <- "treated"
  } else {
    p <- 1 - q1 / q0
    lo <- kept(c0, p, FALSE); up <- kept(c0, p, TRUE)
    s_trim <- q0; share_trim <- 1 - pi1; s_other <- q1; share_other <- pi1
    v_other <- mom_var(t) / (q1 * pi1)
    lower <- mean(t) - lo$mean; upper <- mean(t) - up$mean
    who <- "control"
  }
  v_p <- (1 - p)^2 * ((1 - s_other) / (s_other * share_other) +
                        (1 - s_trim) / (s_trim * share_trim))
  v_bound <- function(k) {
    k$var / (s_trim * (1 - p) * share_trim) +
      (k$edge - k$mean)^2 * p / (s_trim * (1 - p) * share_trim) +
      ((k$edge - k$mean) / (1 - p))^2 * v_p
  }
  se <- sqrt(c(v_bound(lo) + v_other, v_bound(up) + v_other) / n)
  list(lower = lower, upper = upper, se = se, p = p, who = who, q1 = q1, q0 = q0, n = n,
       edges = c(lo$edge, up$edge))
}

imbens_manski <- function(b) {
  width <- b$upper - b$lower
  s <- max(b$se)
  near <- width <= s * sqrt(log(b$n))
  crit <- if (near) qnorm(1 - alpha / 2) else
    uniroot(function(c) pnorm(c + width / s) - pnorm(-c) - (1 - alpha),
            c(qnorm(1 - alpha), qnorm(1 - alpha / 2)), tol = 1e-14)$root
  list(critical_value = crit, near_equal = near,
       ci_low = b$lower - crit * b$se[1], ci_high = b$upper + crit * b$se[2])
}

set.seed(seed)
result <- list()
for (y in c("confidence", "contacts", "wait_minutes")) {
  entry <- list()
  for (a in treatments) {
    t_all <- d[d$arm == a, y]
    c_all <- d[d$arm == "control", y]
    b <- bounds(t_all, c_all)
    im <- imbens_manski(b)
    boot <- t(replicate(B, {
      bb <- bounds(sample(t_all, replace = TRUE), sample(c_all, replace = TRUE))
      c(bb$lower, bb$upper)
    }))
    entry[[a]] <- list(
      lower = b$lower, upper = b$upper, trimmed_share = b$p, trimmed_arm = b$who,
      response_treated = b$q1, response_control = b$q0,
      lower_std_error = b$se[1], upper_std_error = b$se[2],
      critical_value = im$critical_value, near_equal = im$near_equal,
      ci_low = im$ci_low, ci_high = im$ci_high,
      bootstrap_lower_std_error = sd(boot[, 1]), bootstrap_upper_std_error = sd(boot[, 2])
    )
  }
  result[[y]] <- entry
}
result$provenance <- list(
  script = "tests/analysis/reference/outcometypes/make_lee_reference.R",
  data = "tests/analysis/reference/outcometypes/outcomes.csv (make_data.py)",
  R = R.version.string,
  jsonlite = as.character(packageVersion("jsonlite")),
  seed = seed,
  bootstrap_resamples = B,
  alpha = alpha
)
write_json(result, file.path(here, "lee_reference.json"), digits = NA, auto_unbox = TRUE,
           pretty = TRUE)
