# Reference values for the awkward designs of issue 15, computed independently in R.
#
# How to run (from the repository root, after
# `uv run python tests/analysis/reference/awkward/make_data.py` has written the CSV files):
#     Rscript tests/analysis/reference/awkward/make_reference.R
# It reads tests/analysis/reference/awkward/*.csv and writes
# tests/analysis/reference/awkward/reference.json.
#
# Produced with: R 4.2.2 Patched (2022-11-10 r83330), estimatr 1.0.0, sandwich 3.0.2,
# lmtest 0.9.40, AER 1.2.10, jsonlite 1.8.4 (Debian bookworm packages).
#
# Aliased columns are R's lm decision: lm() drops a column that is an exact linear
# combination of the columns before it in the formula (coefficient NA), and the JSON lists
# them under "aliased". The robust fits then use lm's reduced model matrix, because
# estimatr 1.0.0 pivots a rank-deficient design by column norm (Eigen's ColPivHouseholderQR)
# and so keeps a different basis (it drops the intercept) and glm() with a 1e-14 convergence
# tolerance no longer detects the aliasing (its QR tolerance becomes 1e-17). Arm coefficients
# and their standard errors do not depend on which basis is kept. Interaction Wald tests are
# computed by hand from the robust covariance of the estimated interaction terms:
# W = b' V^-1 b on q df.

suppressPackageStartupMessages({
  library(estimatr)
  library(sandwich)
  library(lmtest)
  library(AER)
  library(jsonlite)
})

here <- "tests/analysis/reference/awkward"
read <- function(name) read.csv(file.path(here, paste0(name, ".csv")))
arms <- c("control", "sms", "letter")

tidy_estimatr <- function(fit) {
  keep <- !is.na(fit$coefficients)
  list(
    term = names(fit$coefficients)[keep], estimate = unname(fit$coefficients[keep]),
    std_error = unname(fit$std.error[keep]), df = unname(fit$df[keep]),
    ci_low = unname(fit$conf.low[keep]), ci_high = unname(fit$conf.high[keep]),
    p_value = unname(fit$p.value[keep]),
    aliased = I(names(fit$coefficients)[!keep])
  )
}

tidy_coeftest <- function(fit, vc, df = Inf) {
  ct <- coeftest(fit, vcov. = vc, df = df)
  ci <- coefci(fit, vcov. = vc, df = df)
  list(
    term = rownames(ct), estimate = unname(ct[, 1]), std_error = unname(ct[, 2]),
    p_value = unname(ct[, 4]), ci_low = unname(ci[, 1]), ci_high = unname(ci[, 2]),
    aliased = I(names(coef(fit))[is.na(coef(fit))])
  )
}

tight <- glm.control(epsilon = 1e-14, maxit = 100)
out <- list()

# lm's model matrix without the columns lm finds aliased, with the names of those columns.
reduced <- function(formula, data) {
  fit <- lm(formula, data = data)
  keep <- !is.na(coef(fit))
  list(x = model.matrix(fit)[, keep, drop = FALSE], aliased = I(names(coef(fit))[!keep]))
}
strip <- function(tidy, prefix) {
  tidy$term <- sub(paste0("^", prefix), "", tidy$term)
  tidy
}

# 1. Redundant covariates: the stratum again, a linear function of age, a covariate fixed
#    within each stratum. R's formula order (arm, stratum, covariates) is the drop priority.
a <- read("aliased")
a$arm <- factor(a$arm, levels = arms)
a$court <- factor(a$court, levels = sort(unique(a$court)))
a$court_cov <- factor(a$court_cov, levels = sort(unique(a$court_cov)))
a$recv_sms <- as.integer(a$arm == "sms" & a$delivered == 1)
a$recv_letter <- as.integer(a$arm == "letter" & a$delivered == 1)
g_a <- length(unique(a$household))
f_alias <- attended ~ arm + court + court_cov + age + age_months + court_size
r_alias <- reduced(f_alias, a)
a_x <- r_alias$x
out$aliased_by_lm <- r_alias$aliased
# glm's own decision at its default tolerance, for the record (the same columns).
glm_alias <- coef(glm(f_alias, data = a, family = binomial()))
out$aliased_by_glm <- I(names(glm_alias)[is.na(glm_alias)])
out$aliased_lm_hc2 <- strip(tidy_estimatr(
  lm_robust(attended ~ 0 + a_x, data = a, se_type = "HC2")), "a_x")
out$aliased_lm_cr2 <- strip(tidy_estimatr(
  lm_robust(attended ~ 0 + a_x, data = a, clusters = household)), "a_x")
logit_alias <- glm(attended ~ 0 + a_x, data = a, family = binomial(), control = tight)
out$aliased_logit_cluster <- strip(tidy_coeftest(
  logit_alias, vcovCL(logit_alias, cluster = ~household, type = "HC1"), df = g_a - 1
), "a_x")
out$aliased_logit_model <- strip(tidy_coeftest(logit_alias, vcov(logit_alias)), "a_x")
# CACE: the exogenous columns lm keeps, with receipt instrumented by assignment.
a_exo <- a_x[, !colnames(a_x) %in% c("armsms", "armletter")]
a_arm <- a_x[, c("armsms", "armletter")]
out$aliased_iv_cr2 <- strip(tidy_estimatr(iv_robust(
  attended ~ 0 + recv_sms + recv_letter + a_exo | 0 + a_arm + a_exo,
  data = a, clusters = household
)), "a_exo")

# 2. Covariates with large offsets: a date as YYYYMMDD and a postcode district number.
f_offset <- attended ~ arm + court + age + hearing_date + district
out$offset_lm_hc2 <- tidy_estimatr(lm_robust(f_offset, data = a, se_type = "HC2"))
out$offset_lm_cr2 <- tidy_estimatr(lm_robust(f_offset, data = a, clusters = household))
logit_offset <- glm(f_offset, data = a, family = binomial(), control = tight)
out$offset_logit_model <- tidy_coeftest(logit_offset, vcov(logit_offset))
out$offset_logit_cluster <- tidy_coeftest(
  logit_offset, vcovCL(logit_offset, cluster = ~household, type = "HC1"), df = g_a - 1
)
# A steep effect of the district number: the intercept is far below -20 log-odds.
f_steep <- attended_steep ~ arm + court + age + district
logit_steep <- glm(f_steep, data = a, family = binomial(), control = tight)
out$steep_logit_model <- tidy_coeftest(logit_steep, vcov(logit_steep))
f_offset_iv <- attended ~ recv_sms + recv_letter + court + age + hearing_date + district |
  arm + court + age + hearing_date + district
out$offset_iv_cr2 <- tidy_estimatr(iv_robust(f_offset_iv, data = a, clusters = household))

# 3. Few randomisation units: one arm is a single case, another has five cases.
f <- read("few_units")
f$arm <- factor(f$arm, levels = c("control", "sms", "letter", "post"))
out$few_units_lm_cr2 <- tidy_estimatr(lm_robust(attended ~ arm, data = f, clusters = case))
out$few_units_units <- as.list(tapply(f$case, f$arm, function(x) length(unique(x))))

# 4. CACE. One-sided with an arm that reached nobody: that arm's assignment stays in the
#    model as an exogenous term. Two-sided (some controls reached): per arm against control,
#    treatment received instrumented by assignment.
k <- read("cace")
k$arm <- factor(k$arm, levels = arms)
k$court <- factor(k$court, levels = sort(unique(k$court)))
k$arm_sms <- as.integer(k$arm == "sms")
k$arm_letter <- as.integer(k$arm == "letter")
k$recv_sms <- k$arm_sms * k$delivered_one_sided
out$cace_one_sided_cr2 <- tidy_estimatr(iv_robust(
  attended ~ recv_sms + arm_letter + age + court | arm_sms + arm_letter + age + court,
  data = k, clusters = household
))
out$cace_one_sided_hc2 <- tidy_estimatr(iv_robust(
  attended ~ recv_sms + arm_letter + age + court | arm_sms + arm_letter + age + court,
  data = k, se_type = "HC2"
))
out$cace_two_sided <- list()
for (treated in c("sms", "letter")) {
  pair <- subset(k, arm %in% c("control", treated))
  pair$assigned <- as.integer(pair$arm == treated)
  f_two <- attended ~ delivered_two_sided + age + court | assigned + age + court
  cr2 <- tidy_estimatr(iv_robust(f_two, data = pair, clusters = household))
  hc2 <- tidy_estimatr(iv_robust(f_two, data = pair, se_type = "HC2"))
  aer <- ivreg(f_two, data = pair)
  out$cace_two_sided[[treated]] <- list(
    cr2 = cr2, hc2 = hc2,
    aer_estimate = unname(coef(aer)["delivered_two_sided"])
  )
}

# 5. Subgroups: the interaction of arm with each subgroup, in the primary model (strata by
#    court, covariate age), HC2; the joint Wald test from the robust covariance.
s <- read("subgroups")
s$arm <- factor(s$arm, levels = arms)
s$court <- factor(s$court, levels = sort(unique(s$court)))
wald <- function(formula, data) {
  r <- reduced(formula, data)
  x <- r$x
  fit <- strip(tidy_estimatr(lm_robust(data$attended ~ 0 + x, se_type = "HC2")), "x")
  vc <- vcov(lm_robust(data$attended ~ 0 + x, se_type = "HC2"))
  rownames(vc) <- colnames(vc) <- sub("^x", "", rownames(vc))
  b <- setNames(fit$estimate, fit$term)
  terms <- fit$term[grepl(":", fit$term)]
  w <- as.numeric(t(b[terms]) %*% solve(vc[terms, terms], b[terms]))
  list(terms = I(terms), statistic = w, df = length(terms),
       p_value = pchisq(w, length(terms), lower.tail = FALSE),
       aliased = r$aliased)
}
level_fit <- function(formula, data) {
  r <- reduced(formula, data)
  x <- r$x
  fit <- strip(tidy_estimatr(lm_robust(data$attended ~ 0 + x, se_type = "HC2")), "x")
  fit$aliased <- r$aliased
  fit
}
out$subgroup_court <- wald(attended ~ arm + court + age + arm:court, s)
s$region <- factor(s$region, levels = c("a", "b", "c"))
out$subgroup_region <- wald(attended ~ arm + court + age + region + arm:region, s)
s$role <- factor(s$role, levels = sort(unique(s$role)))
out$subgroup_role <- wald(attended ~ arm + court + age + role + arm:role, s)
# Level fits: the primary model within one level.
out$subgroup_court_levels <- lapply(setNames(levels(s$court), levels(s$court)), function(lv) {
  level_fit(attended ~ arm + age, subset(s, court == lv))
})
out$subgroup_region_levels <- lapply(c(a = "a", b = "b", c = "c"), function(lv) {
  level_fit(attended ~ arm + court + age, subset(s, region == lv))
})

out$versions <- list(
  r = R.version.string,
  estimatr = as.character(packageVersion("estimatr")),
  sandwich = as.character(packageVersion("sandwich")),
  lmtest = as.character(packageVersion("lmtest")),
  AER = as.character(packageVersion("AER"))
)
write_json(out, file.path(here, "reference.json"), digits = NA, auto_unbox = TRUE,
           pretty = TRUE, na = "null")
cat("wrote", file.path(here, "reference.json"), "\n")
