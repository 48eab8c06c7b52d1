# reproduce.R: Nudge's primary table estimated again, independently, with estimatr::lm_robust.
#
# Run it from anywhere:   Rscript reproduce.R
# It needs R (4.0 or later) with the packages estimatr and jsonlite; on Debian or Ubuntu:
#   apt-get install r-base-core r-cran-estimatr r-cran-jsonlite
# or, in R:  install.packages(c("estimatr", "jsonlite"))
#
# It reads three files from the folder it is in:
#   analysis.csv        one row per randomised participant, as Nudge analysed them
#   model.json          the primary model the trial's frozen plan fixes (trial.yaml)
#   nudge_primary.json  Nudge's own estimates, to compare with
# It prints R's estimates beside Nudge's with the largest absolute difference, writes R's (with
# n, the participants each estimate's model analysed) to r_primary.csv and r_primary.json in
# the same folder, and exits with status 1 when the two differ by more than 1e-6 (so a
# replication can be checked by a machine).
#
# The model, as Nudge fits it (docs/analysis-methods.md in Nudge):
#   outcome ~ arm + stratum + covariates      (a linear probability model by OLS)
#   - analysed: the primary outcome's population, outcome observed (complete cases);
#   - arm: control is the reference level; each other arm is an indicator;
#   - stratum: fixed effects for the randomisation strata (when the trial has strata);
#   - covariates: numeric ones enter as they are, categorical ones as factors whose first
#     present level is the reference; the plan's `missing:` rule decides what happens to
#     participants with a missing covariate ("drop": left out; "indicator": a numeric
#     covariate is filled with its mean and gets a 0/1 `name[missing]` column, a categorical
#     one gets its own "(missing)" level);
#   - a term that is constant among the analysed participants is left out;
#   - terms are in this order so that a column that is exactly redundant (aliased) is dropped
#     from the covariates first, then the strata, never an arm (R's own pivoted QR decides,
#     and the columns it drops are listed);
#   - standard errors: HC2 when the participant is the randomisation unit; CR2 clustered on
#     the unit otherwise, with Bell-McCaffrey (Satterthwaite) degrees of freedom, estimatr's
#     defaults (Pustejovsky and Tipton 2018);
#   - after an arm was excluded from enrolment while paused (model.json "concurrent": true),
#     each arm is compared with control in a model of its own, among the people of the two
#     arms allocated while both were open (the column open_arms: the arms open at allocation,
#     separated by commas, empty when every arm was open), as Nudge's analysis/concurrent.py
#     does; everything above then applies within those people.

suppressPackageStartupMessages({
  library(estimatr)
  library(jsonlite)
})

TOLERANCE <- 1e-6
TRUE_WORDS <- c("yes", "y", "true", "t", "1")
FALSE_WORDS <- c("no", "n", "false", "f", "0")
MISSING_LEVEL <- "(missing)"

script_folder <- function() {
  file_arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
  if (length(file_arg) == 0) return(getwd())  # source()d from an interactive session
  dirname(normalizePath(gsub("~+~", " ", sub("^--file=", "", file_arg[1]), fixed = TRUE)))
}

# The analysis file with each column typed as Nudge typed it: numbers as numbers, categories
# as factors with Nudge's level order, references (random ids) as text.
read_analysis_file <- function(path, columns) {
  data <- read.csv(path, colClasses = "character", na.strings = "", check.names = FALSE,
                   encoding = "UTF-8")
  for (name in names(columns)) {
    column <- columns[[name]]
    if (column$type == "numeric") {
      data[[name]] <- as.numeric(data[[name]])
    } else if (column$type == "categorical") {
      levels <- as.character(unlist(column$levels))
      unknown <- setdiff(unique(na.omit(data[[name]])), levels)
      if (length(unknown) > 0) stop(sprintf("column %s has values not in model.json", name))
      data[[name]] <- factor(data[[name]], levels = levels)
    }
  }
  data
}

# Nudge's population rules (experiments/eligibility.py `holds`), one vector at a time.
python_text <- function(values) {
  whole <- !is.na(values) & values == round(values) & abs(values) < 2^53
  ifelse(whole, sprintf("%.0f", values), as.character(values))
}

as_number <- function(values, text) {
  if (is.numeric(values)) values else suppressWarnings(as.numeric(trimws(text)))
}

equal_to <- function(expected, values, text) {
  if (is.logical(expected)) {
    words <- tolower(trimws(text))
    flags <- ifelse(words %in% TRUE_WORDS, TRUE, ifelse(words %in% FALSE_WORDS, FALSE, NA))
    return(!is.na(flags) & flags == expected)
  }
  if (is.numeric(expected)) return(as_number(values, text) == expected)
  tolower(trimws(text)) == tolower(trimws(expected))
}

in_population <- function(data, rule) {
  if (is.null(rule)) return(rep(TRUE, nrow(data)))
  values <- data[[rule$field]]
  if (is.null(values)) values <- rep(NA_character_, nrow(data))
  text <- if (is.numeric(values)) python_text(values) else as.character(values)
  missing <- is.na(values) | (!is.numeric(values) & trimws(text) == "")
  if (rule$operator == "present") return(missing != isTRUE(rule$value))
  holds <- switch(rule$operator,
    equals = equal_to(rule$value, values, text),
    `in` = Reduce(`|`, lapply(rule$value, equal_to, values = values, text = text),
                  rep(FALSE, length(values))),
    min = as_number(values, text) >= rule$value,
    max = as_number(values, text) <= rule$value,
    stop(sprintf("unknown population operator %s", rule$operator)))
  !missing & !is.na(holds) & holds
}

# The plan's `missing:` rule for the covariates (Nudge's analysis/stats/design.py).
handle_missing <- function(data, covariates, rule) {
  if (rule == "drop") {
    keep <- rep(TRUE, nrow(data))
    for (name in covariates) keep <- keep & !is.na(data[[name]])
    return(list(data = data[keep, , drop = FALSE], terms = covariates))
  }
  terms <- character(0)
  for (name in covariates) {
    values <- data[[name]]
    absent <- is.na(values)
    terms <- c(terms, name)
    if (!any(absent)) next
    if (is.factor(values)) {
      levels(values) <- c(levels(values), MISSING_LEVEL)
      values[absent] <- MISSING_LEVEL
      data[[name]] <- values
    } else {
      values[absent] <- if (all(absent)) 0 else mean(values[!absent])
      data[[name]] <- values
      indicator <- paste0(name, "[missing]")
      data[[indicator]] <- as.numeric(absent)
      terms <- c(terms, indicator)
    }
  }
  list(data = data, terms = terms)
}

# A term with one value among the analysed rows carries no information: Nudge leaves it out.
varies <- function(values) {
  if (is.factor(values)) return(nlevels(droplevels(values)) > 1)
  length(unique(values)) > 1
}

model_data <- function(data, spec, treatments = unlist(spec$arm$treatments)) {
  outcome <- spec$outcome
  absent <- setdiff(unlist(spec$covariates), names(data))
  if (length(absent) > 0) {
    stop(sprintf("covariate(s) %s are not in analysis.csv: they identify people, so the bundle
  leaves them out and cannot reproduce this model", paste(absent, collapse = ", ")))
  }
  keep <- in_population(data, spec$population) & !is.na(data[[outcome]]) & !is.na(data$arm)
  if (isTRUE(spec$stratified)) keep <- keep & !is.na(data$stratum)
  analysed <- sum(keep)
  handled <- handle_missing(data[keep, , drop = FALSE], unlist(spec$covariates), spec$missing)
  d <- handled$data
  present <- treatments[treatments %in% as.character(d$arm)]
  d$arm <- factor(as.character(d$arm), levels = c(spec$arm$control, present))
  terms <- c(if (isTRUE(spec$stratified)) "stratum", handled$terms)
  for (name in terms) if (is.factor(d[[name]])) d[[name]] <- droplevels(d[[name]])
  terms <- Filter(function(name) varies(d[[name]]), terms)
  list(data = d, terms = terms, analysed = analysed, arms = present)
}

# After an arm was excluded from enrolment while paused (model.json `concurrent`), Nudge
# compares each arm with control on its own, using only the people of the two arms allocated
# while both were open (Nudge's analysis/concurrent.py): `open_arms` lists the arms open when
# each was allocated, separated by commas, and is empty (NA) when every arm was open.
both_open <- function(data, arm, control) {
  if (is.null(data$open_arms)) return(rep(TRUE, nrow(data)))
  open_arms <- as.character(data$open_arms)
  sets <- strsplit(ifelse(is.na(open_arms), "", open_arms), ",", fixed = TRUE)
  is.na(open_arms) | vapply(sets, function(set) all(c(arm, control) %in% set), logical(1))
}

concurrent_rows <- function(data, arm, control) {
  arms <- as.character(data$arm)
  keep <- !is.na(arms) & arms %in% c(arm, control) & both_open(data, arm, control)
  data[keep, , drop = FALSE]
}

# estimatr's lm_robust handles a rank-deficient design itself, but then computes the CR2
# degrees of freedom from a design that still holds the aliased columns (estimatr 1.0.0): the
# arms' intervals come out wrong. So the aliased columns are found first by R's own rule, the
# pivoted QR that lm uses (dqrdc2, tolerance 1e-7), in formula order, and dropped. Numeric
# covariates are centred first: that moves only the intercept, and keeps a covariate far
# from zero (a date as YYYYMMDD) from costing the QR its precision.
fit_primary <- function(prepared, spec) {
  formula <- reformulate(sprintf("`%s`", c("arm", prepared$terms)),
                         response = sprintf("`%s`", spec$outcome))
  d <- prepared$data
  for (name in prepared$terms) {
    if (is.numeric(d[[name]]) && !endsWith(name, "[missing]")) {
      d[[name]] <- d[[name]] - mean(d[[name]])
    }
  }
  x <- model.matrix(formula, d)
  decomposition <- qr(x, tol = 1e-7)
  kept <- sort(decomposition$pivot[seq_len(decomposition$rank)])
  aliased <- setdiff(colnames(x), colnames(x)[kept])
  if (length(aliased) > 0) {
    cat(sprintf("Aliased (exact linear combinations of the columns before them), dropped: %s\n",
                paste(aliased, collapse = ", ")))
  }
  x <- x[, kept, drop = FALSE]
  # Plain names for the model's columns (a factor's levels and `name[missing]` would need
  # quoting); `terms` maps them back.
  terms <- sub("^`(.*)`$", "\\1", colnames(x))
  names(terms) <- sprintf("column%d", seq_along(terms))
  colnames(x) <- names(terms)
  columns <- data.frame(x)
  columns$.outcome <- d[[spec$outcome]]
  columns$.unit <- d$unit
  reduced <- reformulate(colnames(x), response = ".outcome", intercept = FALSE)
  fit <- if (isTRUE(spec$clustered)) {
    lm_robust(reduced, data = columns, clusters = .unit, se_type = spec$se_type,
              alpha = spec$alpha)
  } else {
    lm_robust(reduced, data = columns, se_type = spec$se_type, alpha = spec$alpha)
  }
  list(fit = fit, formula = formula, terms = terms)
}

primary_table <- function(fit, arms, control, terms) {
  tidied <- tidy(fit)
  tidied$term <- unname(terms[tidied$term])
  rows <- lapply(arms, function(arm) {
    row <- tidied[tidied$term == paste0("arm", arm), ]
    data.frame(arm = arm, versus = control, estimate = row$estimate, std_error = row$std.error,
               ci_low = row$conf.low, ci_high = row$conf.high, p_value = row$p.value,
               df = row$df, stringsAsFactors = FALSE)
  })
  do.call(rbind, rows)
}

MEASURES <- c("estimate", "std_error", "ci_low", "ci_high", "p_value")

# R's figures and Nudge's side by side, one row per arm and measure.
comparison_table <- function(table, nudge) {
  rows <- list()
  for (arm in table$arm) {
    theirs <- Filter(function(e) identical(e$arm, arm), nudge$estimates)
    for (measure in MEASURES) {
      mine <- table[table$arm == arm, measure]
      value <- if (length(theirs) == 1) theirs[[1]][[measure]] else NULL
      value <- if (is.null(value)) NA_real_ else as.numeric(value)
      rows[[length(rows) + 1]] <- data.frame(arm = arm, measure = measure, r = mine,
                                             nudge = value, difference = mine - value,
                                             stringsAsFactors = FALSE)
    }
  }
  do.call(rbind, rows)
}

# One model, as the plan fixes it, on `data` (all arms, or one comparison's people).
fit_model <- function(data, spec, treatments, heading, analysed_in_nudge) {
  prepared <- model_data(data, spec, treatments)
  if (nzchar(heading)) cat(heading, "\n", sep = "")
  cat(sprintf("Analysed (population, outcome observed): %d in R, %s in Nudge\n",
              prepared$analysed, analysed_in_nudge))
  if (length(prepared$arms) == 0) {
    cat("No analysed participants in the treatment arm(s): nothing to fit\n\n")
    return(NULL)
  }
  fitted <- fit_primary(prepared, spec)
  cat(sprintf("Model: lm_robust(%s%s, se_type = \"%s\", alpha = %s): %d participants%s\n\n",
              paste(deparse(fitted$formula, width.cutoff = 500L), collapse = " "),
              if (isTRUE(spec$clustered)) ", clusters = unit" else "", spec$se_type,
              format(spec$alpha), fitted$fit$nobs,
              if (isTRUE(spec$clustered)) sprintf(" in %d units", fitted$fit$nclusters) else ""))
  table <- primary_table(fitted$fit, prepared$arms, spec$arm$control, fitted$terms)
  table$n <- fitted$fit$nobs
  list(table = table, people = as.character(prepared$data$participant_ref))
}

main <- function() {
  folder <- script_folder()
  spec <- fromJSON(file.path(folder, "model.json"), simplifyVector = FALSE)
  nudge <- fromJSON(file.path(folder, "nudge_primary.json"), simplifyVector = FALSE)
  data <- read_analysis_file(file.path(folder, "analysis.csv"), spec$columns)
  cat(sprintf("Trial %s, version %s: primary outcome %s\n", spec$trial, spec$version,
              spec$outcome))
  control <- spec$arm$control
  fits <- if (isTRUE(spec$concurrent)) {
    cat("An arm was excluded from enrolment while paused: each arm is compared with control",
        "using only the people allocated while both were open (column open_arms)\n\n")
    lapply(unlist(spec$arm$treatments), function(arm) {
      theirs <- Filter(function(e) identical(e$arm, arm), nudge$estimates)
      analysed <- if (length(theirs) == 1 && !is.null(theirs[[1]]$analysed)) {
        theirs[[1]]$analysed
      } else {
        "no figure"
      }
      fit_model(concurrent_rows(data, arm, control), spec, arm,
                sprintf("%s against %s, allocated while both were open:", arm, control),
                analysed)
    })
  } else {
    list(fit_model(data, spec, unlist(spec$arm$treatments), "", spec$analysed))
  }
  fits <- Filter(Negate(is.null), fits)
  if (length(fits) == 0) stop("no treatment arm has analysed participants")
  table <- do.call(rbind, lapply(fits, `[[`, "table"))
  analysed <- length(unique(unlist(lapply(fits, `[[`, "people"))))
  print(table, digits = 10, row.names = FALSE)
  write.csv(table, file.path(folder, "r_primary.csv"), row.names = FALSE)
  writeLines(toJSON(list(outcome = spec$outcome, n = analysed, estimates = table),
                    dataframe = "rows", digits = NA, auto_unbox = TRUE, pretty = TRUE),
             file.path(folder, "r_primary.json"))
  compared <- comparison_table(table, nudge)
  cat("\nR beside Nudge:\n")
  print(compared, digits = 10, row.names = FALSE)
  missing <- unique(compared$arm[is.na(compared$nudge)])
  if (length(missing) > 0) {
    cat(sprintf("Nudge gives no figure for some measures of: %s (its notes say why)\n",
                paste(missing, collapse = ", ")))
  }
  if (all(is.na(compared$difference))) {
    cat("\nNothing to compare: Nudge gives no primary estimate (nudge_primary.json says why)\n")
    return(invisible(NULL))
  }
  largest <- max(abs(compared$difference), na.rm = TRUE)
  cat(sprintf("\nLargest absolute difference: %.3g\n", largest))
  if (largest > TOLERANCE) {
    cat(sprintf("R and Nudge DIFFER by more than %g\n", TOLERANCE))
    if (!interactive()) quit(status = 1)  # source()d: report, do not close the session
    return(invisible(compared))
  }
  cat(sprintf("R and Nudge agree to within %g\n", TOLERANCE))
  invisible(compared)
}

main()
