# Reference numbers for random-effects meta-analysis of site estimates (tests/test_its_heterogeneity.py).
#
# Run from the repository root: Rscript tests/r/heterogeneity_reference.R   (R >= 4.2, metafor, jsonlite)
# Writes tests/r/heterogeneity_reference.json.
#
# Every case is analysed with metafor::rma(yi, sei = sei, method = m) for m = "REML" and "DL" (z tests and
# normal-quantile intervals: metafor's defaults), plus the common-effect ("fixed-effect") model
# rma(method = "EE"). Recorded per method: the pooled estimate, SE, CI and z-test p-value; tau^2, I^2, H^2 and
# their Q-profile CIs (confint(), metafor's default type for these models); Cochran's Q, its df and p-value;
# the random-effects weights in % (weights()); and three prediction intervals for a new site:
#   pi_default : predict(res)            -> mu +/- qnorm(1 - a/2) * sqrt(se^2 + tau^2)  (metafor's default)
#   pi_t_km1   : predict(rma(..., test = "t")) -> t quantile with k - 1 df (metafor's t form, for information;
#                note that with test = "t" metafor also widens the CI of mu, so only the PI is recorded)
#   pi_higgins : mu +/- qt(1 - a/2, k - 2) * sqrt(se^2 + tau^2), written out by hand (Higgins, Thompson &
#                Spiegelhalter 2009, eq. 12; metafor has no k - 2 df option), with mu and se from the z fit;
#                only for k >= 3.
# REML is run with a tight convergence threshold (control = list(threshold = 1e-12, maxiter = 1000)) so the
# optimum itself is compared; metafor's default threshold (1e-5 on the change in tau^2) is also recorded as
# tau2_default_control. Q-profile roots use uniroot with tol = 1e-12 (metafor's default is eps^0.25).
#
# Cases: (a) three sites, moderate heterogeneity; (b) five sites, large heterogeneity, also at level 90%;
# (c) two sites; (d) four homogeneous sites (tau^2 = 0 by both methods); (bcg) the BCG vaccine trials
# (metafor::dat.bcg, log risk ratios; Viechtbauer 2010, J Stat Softw 36(3), reports REML tau^2 = 0.3132 and
# mu = -0.7145).

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
cases <- list(
  a_three_moderate = list(yi = c(-0.25, -0.02, -0.16), sei = c(0.06, 0.08, 0.07), level = 95),
  b_five_large = list(yi = c(-0.40, -0.05, 0.12, -0.30, -0.18), sei = c(0.08, 0.06, 0.10, 0.09, 0.07),
                      level = 95),
  b_five_large_90 = list(yi = c(-0.40, -0.05, 0.12, -0.30, -0.18), sei = c(0.08, 0.06, 0.10, 0.09, 0.07),
                         level = 90),
  c_two = list(yi = c(-0.20, 0.05), sei = c(0.08, 0.10), level = 95),
  d_homogeneous = list(yi = c(-0.10, -0.12, -0.09, -0.11), sei = c(0.05, 0.06, 0.07, 0.08), level = 95),
  bcg = list(yi = as.numeric(bcg$yi), sei = sqrt(as.numeric(bcg$vi)), level = 95)
)

tight <- list(threshold = 1e-12, maxiter = 1000)

one_method <- function(yi, sei, method, level) {
  ctrl <- if (method == "REML") tight else list()
  res <- rma(yi, sei = sei, method = method, level = level, control = ctrl)
  k <- length(yi)
  a <- 1 - level / 100
  ci <- confint(res, control = list(tol = 1e-12))$random
  pr <- predict(res)
  rt <- rma(yi, sei = sei, method = method, level = level, test = "t", control = ctrl)
  prt <- predict(rt)
  out <- list(
    estimate = as.numeric(res$beta), std_error = res$se, ci_lower = res$ci.lb, ci_upper = res$ci.ub,
    z = res$zval, p_value = res$pval,
    tau2 = res$tau2, tau2_ci = unname(ci["tau^2", c("ci.lb", "ci.ub")]),
    i2 = res$I2, i2_ci = unname(ci["I^2(%)", c("ci.lb", "ci.ub")]),
    h2 = res$H2, h2_ci = unname(ci["H^2", c("ci.lb", "ci.ub")]),
    q = res$QE, q_df = k - 1, q_p_value = res$QEp,
    weights = unname(weights(res)),
    pi_default = c(pr$pi.lb, pr$pi.ub),
    pi_t_km1 = c(prt$pi.lb, prt$pi.ub)
  )
  if (k >= 3) {
    half <- qt(1 - a / 2, k - 2) * sqrt(res$se^2 + res$tau2)
    out$pi_higgins <- c(out$estimate - half, out$estimate + half)
  } else {
    out$pi_higgins <- NULL
  }
  if (method == "REML") {
    out$tau2_default_control <- rma(yi, sei = sei, method = "REML", level = level)$tau2
  }
  out
}

result <- list(
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  cases = lapply(cases, function(cs) {
    fe <- rma(cs$yi, sei = cs$sei, method = "EE", level = cs$level)
    list(
      yi = cs$yi, sei = cs$sei, level = cs$level,
      fixed = list(estimate = as.numeric(fe$beta), std_error = fe$se, ci_lower = fe$ci.lb,
                   ci_upper = fe$ci.ub, p_value = fe$pval),
      REML = one_method(cs$yi, cs$sei, "REML", cs$level),
      DL = one_method(cs$yi, cs$sei, "DL", cs$level)
    )
  })
)

writeLines(toJSON(result, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           "tests/r/heterogeneity_reference.json")
