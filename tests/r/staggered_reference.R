# Reference numbers for staggered controlled ITS (tests/test_its_staggered.py).
#
# Run: Rscript tests/r/staggered_reference.R   (R 4.2, nlme from the Debian archive)
#
# The design matrix is built here from its written definition (evaltoolkit/its/design.py docstring),
# not from the Python matrix:
#   t = 1..60 in every series; treated series s has first post-interruption period T_s; controls have none.
#   The reference series is the first control (sorted): C1.
#   intercept = 1, pre_slope = t                        (the reference series' line)
#   for each distinct go-live T_j:  calendar_level_j = 1{t >= T_j},  calendar_slope_j = max(t - T_j, 0)
#                                   (in every series: the secular change the controls identify)
#   for every other series s (controls, then treated; sorted):
#                        diff_intercept_s = 1{series = s},  diff_pre_slope_s = 1{series = s} * t
#   treatment (pooled):  diff_level_change = 1{treated} * 1{t >= T_series},
#                        diff_slope_change = 1{treated} * max(t - T_series, 0)
#   treatment (by series): diff_level_change_s = 1{series = s} * 1{t >= T_s}, likewise the slope.
# The output is Python source pasted into the test.

suppressPackageStartupMessages(library(nlme))
set.seed(20261204)

n_t <- 60
series <- c("C1", "C2", "T1", "T2", "T3")
go <- c(T1 = 20, T2 = 32, T3 = 41)
dates <- seq(as.Date("2018-01-01"), by = "month", length.out = n_t)

rows <- list()
for (s in series) {
  t <- 1:n_t
  a <- c(C1 = 40, C2 = 48, T1 = 44, T2 = 52, T3 = 38)[[s]]
  e <- as.numeric(arima.sim(list(ar = 0.4), n = n_t, sd = 1.5))
  secular <- 1.5 * (t >= 32) - 0.05 * pmax(t - 32, 0)
  y <- a + 0.25 * t + secular + e
  pop <- round(runif(n_t, 9000, 11000))
  lograte <- log(a / 10000) + 0.004 * t + 0.05 * (t >= 32)
  if (s %in% names(go)) {
    Ts <- go[[s]]
    y <- y - 4 * (t >= Ts) - 0.15 * pmax(t - Ts, 0)
    lograte <- lograte - 0.2 * (t >= Ts) - 0.005 * pmax(t - Ts, 0)
  }
  n <- rpois(n_t, pop * exp(lograte))
  rows[[s]] <- data.frame(series = s, month = dates, time = t, y = round(y, 3), n = n, pop = pop)
}
d <- do.call(rbind, rows)
rownames(d) <- NULL

build <- function(d, by_series = FALSE) {
  t <- d$time
  Ts <- ifelse(d$series %in% names(go), go[d$series], NA)
  treated <- !is.na(Ts)
  X <- data.frame(intercept = 1, pre_slope = t)
  for (Tj in sort(unique(go))) {
    X[[paste0("calendar_level_", Tj)]] <- as.numeric(t >= Tj)
    X[[paste0("calendar_slope_", Tj)]] <- pmax(t - Tj, 0)
  }
  others <- c(setdiff(sort(unique(d$series)), c("C1", names(go))), sort(names(go)))
  for (s in others) X[[paste0("diff_intercept_", s)]] <- as.numeric(d$series == s)
  for (s in others) X[[paste0("diff_pre_slope_", s)]] <- as.numeric(d$series == s) * t
  lev <- ifelse(treated, as.numeric(t >= Ts), 0)
  slo <- ifelse(treated, pmax(t - Ts, 0), 0)
  if (by_series) {
    for (s in names(go)) {
      X[[paste0("diff_level_change_", s)]] <- lev * (d$series == s)
      X[[paste0("diff_slope_change_", s)]] <- slo * (d$series == s)
    }
  } else {
    X$diff_level_change <- lev
    X$diff_slope_change <- slo
  }
  as.matrix(X)
}

py_vec <- function(x) paste0("[", paste(sprintf("%.12g", x), collapse = ", "), "]")
py_str <- function(x) paste0("[", paste0('"', x, '"', collapse = ", "), "]")

cat("# ---- data (", nrow(d), " rows, series-major) ----\n", sep = "")
cat("SERIES =", py_str(d$series), "\n")
cat("Y =", py_vec(d$y), "\n")
cat("N =", py_vec(d$n), "\n")
cat("POP =", py_vec(d$pop), "\n")

X <- build(d)
cat("TERMS =", py_str(colnames(X)), "\n")

# ---- OLS (lm) ----
fit_lm <- lm(d$y ~ 0 + X)
cat("LM_COEF =", py_vec(coef(fit_lm)), "\n")
cat("LM_SE =", py_vec(sqrt(diag(vcov(fit_lm)))), "\n")
# cumulative effect: sum over each treated series' own post periods of (X - X_cf) beta
eff <- c("diff_level_change", "diff_slope_change")
post <- X[, "diff_level_change"] == 1
g <- colSums(X[post, eff, drop = FALSE])
cum <- sum(g * coef(fit_lm)[paste0("X", eff)])
cum_se <- sqrt(drop(t(g) %*% vcov(fit_lm)[paste0("X", eff), paste0("X", eff)] %*% g))
cat("LM_CUM =", py_vec(c(cum, cum_se, sum(post))), "\n")

# ---- by-series effects (lm) ----
Xb <- build(d, by_series = TRUE)
fit_lmb <- lm(d$y ~ 0 + Xb)
cat("LMB_TERMS =", py_str(colnames(Xb)), "\n")
cat("LMB_COEF =", py_vec(coef(fit_lmb)), "\n")
cat("LMB_SE =", py_vec(sqrt(diag(vcov(fit_lmb)))), "\n")

# ---- GLS, AR(1) within series, REML ----
dd <- data.frame(y = d$y, series = d$series, time = d$time, X)
form <- as.formula(paste("y ~ 0 +", paste(colnames(X), collapse = " + ")))
fit_gls <- gls(form, data = dd, correlation = corAR1(form = ~ time | series), method = "REML",
               control = glsControl(tolerance = 1e-10, msTol = 1e-10, returnObject = TRUE))
phi <- coef(fit_gls$modelStruct$corStruct, unconstrained = FALSE)
cat("GLS_COEF =", py_vec(coef(fit_gls)), "\n")
cat("GLS_SE =", py_vec(sqrt(diag(vcov(fit_gls)))), "\n")
cat("GLS_PHI =", sprintf("%.12g", phi), "\n")
cat("GLS_LOGLIK =", sprintf("%.12g", as.numeric(logLik(fit_gls))), "\n")

# ---- Poisson GLM with offset ----
fit_glm <- glm(d$n ~ 0 + X + offset(log(d$pop)), family = poisson())
cat("GLM_COEF =", py_vec(coef(fit_glm)), "\n")
cat("GLM_SE =", py_vec(sqrt(diag(vcov(fit_glm)))), "\n")
# cumulative effect on the count scale: sum of mu - mu_cf over the treated post rows (delta method)
b <- coef(fit_glm)
Xcf <- X
Xcf[, eff] <- 0
off <- log(d$pop)
mu <- exp(drop(X %*% b) + off)
mucf <- exp(drop(Xcf %*% b) + off)
F <- sum(mu[post]); C <- sum(mucf[post])
gr <- colSums(mu[post] * X[post, ]) - colSums(mucf[post] * Xcf[post, ])
cse <- sqrt(drop(t(gr) %*% vcov(fit_glm) %*% gr))
cat("GLM_CUM =", py_vec(c(F - C, cse, F, C)), "\n")
