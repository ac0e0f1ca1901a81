# Reference numbers for the linear mixed models of evaltoolkit.prepost (tests/test_prepost_mixed_r.py):
# fit_trajectories (score ~ time, random intercepts with or without random slopes) and the mixed_model row
# of complete_vs_available (one mean per occasion, random intercepts), by REML and by ML, with lme4::lmer
# and nlme::lme.
#
# Run from the repository root: Rscript tests/r/mixed_reference.R   (R 4.x, lme4 1.1-31, nlme, jsonlite)
# Writes tests/r/mixed_reference.json.
#
# Data (tests/fixtures/prepost_mixed/):
#   rom_scores.csv  PHQ-9, GAD-7 and CORE-10 totals of the bundled synthetic data by session (0 = baseline,
#                   9 = end), written by make_rom_scores.py; rows with an empty total are not used.
#   small.csv       6 subjects at pre / mid / post (time 0, 1, 2), two without a post score: a small table
#                   where standard errors from the joint Hessian of fixed effects and variance parameters
#                   (statsmodels' MixedLM cov_params) differ most from (X'V^-1 X)^-1.
#
# What is recorded per fit: fixed effects and their standard errors (vcov: (X'V^-1 X)^-1 at the estimated
# variance components), the random-effect SDs and correlation (VarCorr) and the residual SD, the
# log-likelihood (logLik: REML or ML), and lme4's singular-fit flag. The optimisers are run with tighter
# tolerances than the defaults, so that the optimum itself is compared (differences between lme4 and nlme
# are then ~1e-6 relative; both are written so the tests can show the agreement).

suppressPackageStartupMessages({
  library(lme4)
  library(nlme)
  library(jsonlite)
})

lme4_ctrl <- lmerControl(
  optimizer = "nloptwrap",
  optCtrl = list(xtol_abs = 1e-12, ftol_abs = 1e-14, xtol_rel = 1e-12, ftol_rel = 1e-14, maxeval = 1e5),
  check.conv.singular = .makeCC(action = "ignore", tol = 1e-4)
)
nlme_ctrl <- lmeControl(maxIter = 500, msMaxIter = 500, tolerance = 1e-10, msTol = 1e-12, niterEM = 100,
                        returnObject = TRUE)

from_lmer <- function(m) {
  vc <- as.data.frame(VarCorr(m))
  sd_of <- function(v1, v2 = NA) {
    r <- vc[vc$grp != "Residual" & vc$var1 == v1 & (if (is.na(v2)) is.na(vc$var2) else vc$var2 %in% v2), ]
    if (nrow(r) == 0) NA else r$sdcor[1]
  }
  list(
    package = "lme4",
    fixef_names = names(fixef(m)),
    estimate = unname(fixef(m)),
    std_error = unname(sqrt(diag(as.matrix(vcov(m))))),
    intercept_sd = sd_of("(Intercept)"),
    slope_sd = if (length(fixef(m)) == 2 && "time" %in% vc$var1) sd_of("time") else NA,
    correlation = sd_of("(Intercept)", "time"),
    residual_sd = sigma(m),
    loglik = as.numeric(logLik(m)),
    singular = isSingular(m, tol = 1e-4)
  )
}

from_lme <- function(m) {
  re <- as.matrix(getVarCov(m))
  has_slope <- ncol(re) == 2
  list(
    package = "nlme",
    fixef_names = names(fixef(m)),
    estimate = unname(fixef(m)),
    std_error = unname(sqrt(diag(vcov(m)))),
    intercept_sd = sqrt(re[1, 1]),
    slope_sd = if (has_slope) sqrt(re[2, 2]) else NA,
    correlation = if (has_slope) re[1, 2] / sqrt(re[1, 1] * re[2, 2]) else NA,
    residual_sd = m$sigma,
    loglik = as.numeric(logLik(m)),
    singular = NA
  )
}

fits <- list()
add <- function(dataset, outcome, model, reml, d) {
  # model: "slopes"     score ~ time + (time | id)
  #        "intercepts" score ~ time + (1 | id)
  #        "occasions"  score ~ occasion + (1 | id), first level = pre
  f_lmer <- switch(model,
    slopes = score ~ time + (time | id),
    intercepts = score ~ time + (1 | id),
    occasions = score ~ occasion + (1 | id)
  )
  fixed <- if (model == "occasions") score ~ occasion else score ~ time
  random <- if (model == "slopes") ~ time | id else ~ 1 | id
  m1 <- lmer(f_lmer, data = d, REML = reml, control = lme4_ctrl)
  r1 <- from_lmer(m1)
  m2 <- tryCatch(
    lme(fixed, random = random, data = d, method = if (reml) "REML" else "ML", control = nlme_ctrl),
    error = function(e) NULL
  )
  for (r in list(r1, if (is.null(m2)) NULL else from_lme(m2))) {
    if (is.null(r)) next
    r$dataset <- dataset
    r$outcome <- outcome
    r$model <- model
    r$reml <- reml
    r$n_scores <- nrow(d)
    r$n_subjects <- length(unique(d$id))
    fits[[length(fits) + 1]] <<- r
  }
}

rom <- read.csv("tests/fixtures/prepost_mixed/rom_scores.csv", stringsAsFactors = FALSE)
rom <- rom[!is.na(rom$total), ]
for (k in c("phq9", "gad7", "core10")) {
  d <- rom[rom$outcome == k, ]
  d <- data.frame(id = d$patient_id, time = d$session, score = d$total,
                  occasion = relevel(factor(d$session), ref = "0"))
  for (reml in c(TRUE, FALSE)) {
    for (model in c("slopes", "intercepts", "occasions")) add("rom", k, model, reml, d)
  }
}

small <- read.csv("tests/fixtures/prepost_mixed/small.csv", stringsAsFactors = FALSE)
small <- small[!is.na(small$score), ]
small$occasion <- relevel(factor(small$occ), ref = "pre")
for (reml in c(TRUE, FALSE)) {
  for (model in c("slopes", "intercepts", "occasions")) add("small", "value", model, reml, small)
}

out <- list(
  generated_by = "tests/r/mixed_reference.R",
  r_version = R.version.string,
  lme4_version = as.character(packageVersion("lme4")),
  nlme_version = as.character(packageVersion("nlme")),
  fits = fits
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE),
           "tests/r/mixed_reference.json")
cat("wrote", length(fits), "fits to tests/r/mixed_reference.json\n")
