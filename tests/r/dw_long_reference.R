# Reference Durbin-Watson p-values for long series (issue 11: diagnostics() overflowed in exp at ~250+
# points). Deterministic series (no RNG), rebuilt in tests/test_its_gamma.py:
#   t = 1..n, y = 10 + 0.01 t + 2 (t > n/2) + sin(2.3 t) + 0.8 sin(0.37 t) + 0.5 cos(1.1 t)
# fitted by OLS with evaltoolkit's coding (interruption at n/2 + 1).
# lmtest::dwtest(exact = TRUE) cannot give an exact p here (pan fails for n this long and falls back to a
# normal approximation), so the exact p = P(sum lambda_i chi2_1 < 0), lambda = eigenvalues of
# M (A - dw I) M, is computed here by Imhof's formula with R's integrate() on the log scale (an independent
# implementation) and checked by Monte Carlo (10^5 draws, seed 1).
# Run: Rscript tests/r/dw_long_reference.R   (R 4.2, lmtest 0.9-40)
suppressMessages(library(lmtest))
options(digits = 15)
for (n in c(300, 600)) {
  t <- 1:n
  T0 <- n / 2 + 1
  y <- 10 + 0.01 * t + 2 * (t > n / 2) + sin(2.3 * t) + 0.8 * sin(0.37 * t) + 0.5 * cos(1.1 * t)
  level <- as.numeric(t >= T0)
  slope <- pmax(t - T0, 0)
  X <- cbind(1, t, level, slope)
  fit <- lm(y ~ t + level + slope)
  e <- residuals(fit)
  dw <- sum(diff(e)^2) / sum(e^2)
  A <- diag(c(1, rep(2, n - 2), 1))
  A[cbind(1:(n - 1), 2:n)] <- -1
  A[cbind(2:n, 1:(n - 1))] <- -1
  Q <- qr.Q(qr(X), complete = TRUE)
  Z <- Q[, 5:n]
  lam <- eigen(t(Z) %*% (A - dw * diag(n)) %*% Z, symmetric = TRUE, only.values = TRUE)$values
  f <- function(u) sapply(u, function(v) {
    th <- 0.5 * sum(atan(lam * v))
    lr <- 0.25 * sum(log1p((lam * v)^2))
    sin(th) / v * exp(-lr)
  })
  p_imhof <- 0.5 - integrate(f, 0, Inf, subdivisions = 2000L, rel.tol = 1e-12, abs.tol = 1e-14)$value / pi
  set.seed(1)
  m <- 1e5
  s <- numeric(m)
  for (i in seq_len(m %/% 1e4)) {
    draws <- matrix(rchisq(length(lam) * 1e4, 1), nrow = length(lam))
    s[((i - 1) * 1e4 + 1):(i * 1e4)] <- colSums(lam * draws)
  }
  p_mc <- mean(s < 0)
  norm <- suppressWarnings(dwtest(fit, alternative = "greater"))$p.value
  cat(sprintf("n = %d: DW = %.15g, p_imhof = %.15g, p_monte_carlo = %.6f (se %.6f), lmtest normal approx %.6f\n",
              n, dw, p_imhof, p_mc, sqrt(p_mc * (1 - p_mc) / m), norm))
}
