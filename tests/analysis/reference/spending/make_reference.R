# Reference boundaries for analysis/stats/spending.py, from R's rpact (Debian: r-cran-rpact).
# Run from the project root:  Rscript tests/analysis/reference/spending/make_reference.R
# Writes reference.json beside this script: for each design, rpact's critical values (Z scale)
# and cumulative alpha spent. Two-sided designs are rpact's symmetric ones (sided = 2), each
# side the one-sided design at alpha / 2.
suppressPackageStartupMessages({
  library(rpact)
  library(jsonlite)
})
designs <- list(
  list(name = "obf_one_sided_two_looks", spending = "obrien_fleming", type = "asOF",
       sides = 1, alpha = 0.025, fractions = c(0.5, 1)),
  list(name = "obf_two_sided_two_looks", spending = "obrien_fleming", type = "asOF",
       sides = 2, alpha = 0.05, fractions = c(0.5, 1)),
  list(name = "obf_two_sided_four_looks", spending = "obrien_fleming", type = "asOF",
       sides = 2, alpha = 0.05, fractions = c(0.25, 0.5, 0.75, 1)),
  list(name = "obf_two_sided_actual_fractions", spending = "obrien_fleming", type = "asOF",
       sides = 2, alpha = 0.05, fractions = c(0.42, 0.81, 1)),
  list(name = "pocock_two_sided_three_looks", spending = "pocock", type = "asP",
       sides = 2, alpha = 0.05, fractions = c(0.3, 0.65, 1)),
  list(name = "pocock_one_sided_two_looks", spending = "pocock", type = "asP",
       sides = 1, alpha = 0.025, fractions = c(0.5, 1)),
  list(name = "obf_two_sided_alpha_01", spending = "obrien_fleming", type = "asOF",
       sides = 2, alpha = 0.01, fractions = c(0.33, 0.67, 1))
)
out <- lapply(designs, function(d) {
  g <- getDesignGroupSequential(typeOfDesign = d$type, informationRates = d$fractions,
                                alpha = d$alpha, sided = d$sides)
  list(name = d$name, spending = d$spending, sides = d$sides, alpha = d$alpha,
       fractions = d$fractions, critical = g$criticalValues, alpha_spent = g$alphaSpent)
})
meta <- list(
  generated_by = "tests/analysis/reference/spending/make_reference.R",
  r_version = as.character(getRversion()),
  rpact_version = as.character(packageVersion("rpact")),
  designs = out
)
write_json(meta, "tests/analysis/reference/spending/reference.json", digits = NA,
           auto_unbox = TRUE, pretty = TRUE)
