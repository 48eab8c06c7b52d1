# Reference values for a multi-site trial's results by site (issue 25), computed
# independently of the project in R.
#
# How to run (from the repository root):
#     Rscript tests/analysis/reference/sites/make_reference.R
# It writes sites.csv (randomised by person) and sites_cases.csv (randomised by case), both
# made here with a fixed seed from fictional people, and reference.json beside this script.
# The Python tests read them and never call R.
#
# The design: three sites (organisations gwent, dyfed-powys, north-wales), three arms (control,
# sms, letter), one yes/no outcome `attended`, some outcomes missing (complete cases are
# analysed). Randomisation is stratified by site, so the site is the model's only stratum.
#
# For each version (HC2 by person; CR2 by case):
# - pooled: lm_robust(attended ~ arm + site), the trial's pre-registered estimate;
# - by site: lm_robust(attended ~ arm) on the site's people only;
# - heterogeneity: lm_robust(attended ~ arm + site + arm:site) and the joint Wald chi-square
#   W = b' V^-1 b of the arm:site terms from its robust vcov (no car), on q df;
# - spread: metafor::rma(yi, sei, method = "FE") over the sites' estimates and standard
#   errors, for each arm against control: Cochran's Q, its df and p, and I^2.

suppressPackageStartupMessages({
  library(estimatr)
  library(metafor)
  library(jsonlite)
})
options(digits = 17)
here <- "tests/analysis/reference/sites"
arms <- c("control", "sms", "letter")
sites <- c("gwent", "dyfed-powys", "north-wales")

RNGkind("Mersenne-Twister", "Inversion", "Rejection")
set.seed(20261206)
base <- c(gwent = -0.2, `dyfed-powys` = 0.3, `north-wales` = 0.0)
effect <- list(
  gwent = c(control = 0, sms = 0.7, letter = 0.2),
  `dyfed-powys` = c(control = 0, sms = 0.1, letter = 0.4),
  `north-wales` = c(control = 0, sms = 0.5, letter = -0.1)
)
blocks <- function(n) as.vector(replicate(ceiling(n / 3), sample(arms)))[seq_len(n)]

# Randomised by person: 160, 120 and 90 people.
size <- c(gwent = 160, `dyfed-powys` = 120, `north-wales` = 90)
d <- do.call(rbind, lapply(sites, function(s) {
  data.frame(site = s, arm = blocks(size[[s]]))
}))
d$attended <- rbinom(nrow(d), 1, plogis(base[d$site] + mapply(function(s, a) effect[[s]][[a]], d$site, d$arm)))
d$attended[runif(nrow(d)) < 0.05] <- NA
d$participant_ref <- sprintf("P%04d", seq_len(nrow(d)))
write.csv(d[, c("participant_ref", "site", "arm", "attended")], file.path(here, "sites.csv"),
          row.names = FALSE, na = "")

# Randomised by case: 60, 45 and 36 cases of one to three people (victims and witnesses).
cases <- c(gwent = 60, `dyfed-powys` = 45, `north-wales` = 36)
k <- do.call(rbind, lapply(sites, function(s) {
  data.frame(site = s, arm = blocks(cases[[s]]))
}))
k$case_ref <- sprintf("C%04d", seq_len(nrow(k)))
k$people <- sample(1:3, nrow(k), replace = TRUE, prob = c(0.5, 0.3, 0.2))
k$u <- rnorm(nrow(k), 0, 0.6)
c2 <- k[rep(seq_len(nrow(k)), k$people), c("site", "arm", "case_ref", "u")]
c2$attended <- rbinom(nrow(c2), 1, plogis(base[c2$site] + c2$u +
  mapply(function(s, a) effect[[s]][[a]], c2$site, c2$arm)))
c2$attended[runif(nrow(c2)) < 0.05] <- NA
c2$participant_ref <- sprintf("W%04d", seq_len(nrow(c2)))
write.csv(c2[, c("participant_ref", "case_ref", "site", "arm", "attended")],
          file.path(here, "sites_cases.csv"), row.names = FALSE, na = "")

coefficients <- function(fit) {
  lapply(setNames(c("sms", "letter"), c("sms", "letter")), function(a) {
    t <- paste0("arm", a)
    list(estimate = unname(fit$coefficients[t]), std_error = unname(fit$std.error[t]),
         ci_low = unname(fit$conf.low[t]), ci_high = unname(fit$conf.high[t]),
         p_value = unname(fit$p.value[t]), df = unname(fit$df[t]))
  })
}

analyse <- function(data, se_type, clusters) {
  data <- data[!is.na(data$attended), ]
  data$arm <- factor(data$arm, levels = arms)
  data$site <- factor(data$site, levels = sites)
  fit <- function(formula, rows) {
    if (is.null(clusters)) lm_robust(formula, data = rows, se_type = se_type)
    else lm_robust(formula, data = rows, se_type = se_type, clusters = rows[[clusters]])
  }
  out <- list(n = nrow(data))
  out$pooled <- coefficients(fit(attended ~ arm + site, data))
  out$by_site <- lapply(setNames(sites, sites), function(s) {
    rows <- data[data$site == s, ]
    c(list(n = nrow(rows)), coefficients(fit(attended ~ arm, rows)))
  })
  full <- fit(attended ~ arm + site + arm:site, data)
  terms <- grep(":", names(full$coefficients), value = TRUE)
  b <- full$coefficients[terms]
  v <- vcov(full)[terms, terms]
  w <- as.numeric(t(b) %*% solve(v, b))
  out$heterogeneity <- list(terms = I(terms), statistic = w, df = length(terms),
                            p_value = pchisq(w, length(terms), lower.tail = FALSE))
  out$spread <- lapply(setNames(c("sms", "letter"), c("sms", "letter")), function(a) {
    yi <- sapply(sites, function(s) out$by_site[[s]][[a]]$estimate)
    sei <- sapply(sites, function(s) out$by_site[[s]][[a]]$std_error)
    m <- rma(yi = yi, sei = sei, method = "FE")
    list(q = m$QE, df = m$k - 1, p_value = m$QEp, i2 = m$I2)
  })
  out
}

out <- list(
  by_person = analyse(d, "HC2", NULL),
  by_case = analyse(c2, "CR2", "case_ref"),
  versions = list(
    r = R.version.string,
    estimatr = as.character(packageVersion("estimatr")),
    metafor = as.character(packageVersion("metafor")),
    jsonlite = as.character(packageVersion("jsonlite"))
  )
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           file.path(here, "reference.json"))
