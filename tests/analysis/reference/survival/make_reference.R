# Reference values for time to withdrawal (analysis/stats/survival.py and
# analysis/time_to_event.py), computed independently with R's survival package.
#
# How to run (from the repository root, after
# `uv run python tests/analysis/reference/survival/make_withdrawals.py` has written withdrawal.csv):
#     Rscript tests/analysis/reference/survival/make_reference.R
# It reads tests/analysis/reference/survival/withdrawal.csv and writes reference.json beside it.
# The versions it ran with are written into the JSON (`versions`).
#
# The follow-up rule is applied here from its description in docs/analysis-methods.md ("Time
# to the event"), not from Nudge's code: time is counted in days from the charge; a person
# who withdrew is an event on the day of withdrawal; everyone else, and a withdrawal after the
# end of follow-up, is censored at the analysis date or 180 days after the charge, whichever
# is earlier. Left out: outcome not observed, no charge date, a withdrawal without its date.
#
# survfit's defaults are kept: Greenwood's variance and conf.type = "log" (the interval of
# log S(t), exp(log S -/+ z se(log S)), upper end capped at 1). summary(fit, times = ...) gives
# S(t) at each horizon with its standard error on the S scale (std.err = S se(log S)).

suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
})

here <- "tests/analysis/reference/survival"
as_of <- as.Date("2027-03-31")
horizon <- 180
times <- c(30, 90, 180)

d <- read.csv(file.path(here, "withdrawal.csv"), colClasses = "character")
d$arm <- factor(d$arm, levels = c("control", "sms", "letter"))
kept <- d$withdrew != "" & d$charged_on != "" & !(d$withdrew == "1" & d$withdrew_on == "")
left_out <- sum(!kept)
d <- d[kept, ]
charged <- as.Date(d$charged_on)
followed <- pmin(as.numeric(as_of - charged), horizon)
after <- ifelse(d$withdrew == "1", as.numeric(as.Date(d$withdrew_on) - charged), Inf)
d$status <- as.integer(after <= followed)
d$time <- ifelse(d$status == 1, after, followed)

at_times <- function(fit, level_names) {
  s <- summary(fit, times = times)
  strata <- sub("^arm=", "", as.character(s$strata))
  lapply(setNames(level_names, level_names), function(arm) {
    rows <- strata == arm
    list(
      time = s$time[rows], n_risk = s$n.risk[rows],
      events = cumsum(s$n.event[rows]),
      surv = s$surv[rows], std_err = s$std.err[rows],
      lower = s$lower[rows], upper = s$upper[rows]
    )
  })
}

log_rank <- function(data) {
  data$arm <- droplevels(data$arm)
  test <- survdiff(Surv(time, status) ~ arm, data = data)
  df <- length(test$n) - 1
  list(
    arms = levels(data$arm), chisq = test$chisq, df = df,
    p_value = pchisq(test$chisq, df, lower.tail = FALSE),
    observed = unname(test$obs), expected = unname(test$exp)
  )
}

out <- list(as_of = format(as_of), horizon = horizon, times = times, left_out = left_out)
out$analysed <- as.list(table(d$arm))
out$events <- as.list(tapply(d$status, d$arm, sum))
out$km <- at_times(survfit(Surv(time, status) ~ arm, data = d), levels(d$arm))
out$km_90 <- at_times(survfit(Surv(time, status) ~ arm, data = d, conf.int = 0.90),
                      levels(d$arm))
out$log_rank <- log_rank(d)
out$log_rank_pairs <- list(
  sms = log_rank(d[d$arm %in% c("control", "sms"), ]),
  letter = log_rank(d[d$arm %in% c("control", "letter"), ])
)

# An arm whose last person at risk withdraws: S(t) reaches 0, where log S has no interval.
edge <- data.frame(time = c(1, 2, 2, 3, 5, 5), status = c(1, 1, 0, 1, 1, 1))
e <- summary(survfit(Surv(time, status) ~ 1, data = edge), times = c(2, 3, 5))
out$edge <- list(
  time = edge$time, status = edge$status, times = c(2, 3, 5),
  surv = e$surv, std_err = e$std.err, lower = e$lower, upper = e$upper, n_risk = e$n.risk
)

out$versions <- list(
  r = R.version.string,
  survival = as.character(packageVersion("survival")),
  jsonlite = as.character(packageVersion("jsonlite")),
  call = "survfit(Surv(time, status) ~ arm, data = d); summary(fit, times = c(30, 90, 180)); survdiff(Surv(time, status) ~ arm, data = d)"
)
write_json(out, file.path(here, "reference.json"), digits = NA, auto_unbox = TRUE,
           pretty = TRUE, na = "null")
cat("wrote", file.path(here, "reference.json"), "\n")
