# Reference values for subgroups of outcomes that are not yes/no (analysis/subgroups.py run on
# a scale, a count and a measurement: the difference in means within each level, and the
# interaction test), computed independently in R with estimatr.
#
# How to run (from the repository root; reads outcomes.csv, which make_data.py writes):
#     Rscript tests/analysis/reference/outcometypes/make_subgroup_reference.R
# It writes subgroup_reference.json beside it, with the versions it ran with.
#
# The subgroup is the court (also the stratum), complete cases, control the reference arm:
# - within each court: estimatr::lm_robust(y ~ arm + age) on that court's rows (the stratum is
#   constant there), HC2, and CR2 by officer (Bell-McCaffrey df);
# - the interaction test: lm_robust(y ~ arm + court + age + arm:court) on all rows, the joint
#   Wald chi-square b' V^-1 b of the four arm x court terms with the model's own robust
#   covariance V (HC2, or CR2 by officer), on 4 df;
# - for results over time (analysis/over_time.py, one week holding everyone): each arm against
#   control, unadjusted, lm_robust(y ~ arm) on the two arms' rows, HC2 and CR2 by officer.

suppressPackageStartupMessages({
  library(estimatr)
  library(jsonlite)
})

here <- "tests/analysis/reference/outcometypes"
d <- read.csv(file.path(here, "outcomes.csv"), colClasses = c(age = "numeric"),
              na.strings = "")
d$arm <- factor(d$arm, levels = c("control", "sms", "letter"))
d$court <- factor(d$court)
arm_terms <- c("armsms", "armletter")

within <- function(fit) {
  s <- tidy(fit)
  s <- s[match(arm_terms, s$term), ]
  list(estimate = s$estimate, std_error = s$std.error, ci_low = s$conf.low,
       ci_high = s$conf.high, p_value = s$p.value)
}

interaction <- function(fit) {
  b <- coef(fit)
  terms <- grep(":", names(b), value = TRUE)
  v <- vcov(fit)[terms, terms]
  statistic <- drop(t(b[terms]) %*% solve(v, b[terms]))
  list(statistic = statistic, df = length(terms),
       p_value = pchisq(statistic, length(terms), lower.tail = FALSE))
}

result <- list()
for (y in c("confidence", "contacts", "wait_minutes")) {
  cc <- d[!is.na(d[[y]]), ]
  entry <- list(levels = list(), levels_clustered = list())
  for (court in levels(cc$court)) {
    rows <- cc[cc$court == court, ]
    f <- as.formula(paste(y, "~ arm + age"))
    entry$levels[[court]] <- c(list(n = nrow(rows)),
                               within(lm_robust(f, data = rows, se_type = "HC2")))
    entry$levels_clustered[[court]] <- within(
      lm_robust(f, data = rows, clusters = officer, se_type = "CR2"))
  }
  f <- as.formula(paste(y, "~ arm + court + age + arm:court"))
  entry$interaction <- interaction(lm_robust(f, data = cc, se_type = "HC2"))
  entry$interaction_clustered <- interaction(
    lm_robust(f, data = cc, clusters = officer, se_type = "CR2"))
  entry$unadjusted <- list()
  for (a in c("sms", "letter")) {
    pair <- droplevels(cc[cc$arm %in% c("control", a), ])
    term <- paste0("arm", a)
    pick <- function(fit) {
      s <- tidy(fit)
      s <- s[s$term == term, ]
      list(estimate = s$estimate, ci_low = s$conf.low, ci_high = s$conf.high)
    }
    f <- as.formula(paste(y, "~ arm"))
    entry$unadjusted[[a]] <- list(
      hc2 = pick(lm_robust(f, data = pair, se_type = "HC2")),
      cr2 = pick(lm_robust(f, data = pair, clusters = officer, se_type = "CR2")))
  }
  result[[y]] <- entry
}
result$provenance <- list(
  script = "tests/analysis/reference/outcometypes/make_subgroup_reference.R",
  data = "tests/analysis/reference/outcometypes/outcomes.csv (make_data.py)",
  R = R.version.string,
  estimatr = as.character(packageVersion("estimatr"))
)
write_json(result, file.path(here, "subgroup_reference.json"), digits = NA, auto_unbox = TRUE,
           pretty = TRUE)
