# Reference numbers for a negative binomial ITS on large counts (~45,000 a month), issue 11 defect:
# evaltoolkit warned "did not converge" although its estimates matched MASS::glm.nb.
# Run: Rscript tests/r/negbin_large_reference.R   (R 4.2, MASS). Output pasted into tests/test_its_gamma.py.
# Coding as evaltoolkit (Stata itsa): t = 1..48 from 2018-01-01, level = t >= 25, slope = pmax(t - 25, 0).
suppressMessages(library(MASS))
options(digits = 15)
set.seed(45000)
n <- 48
t <- 1:n
level <- as.numeric(t >= 25)
slope <- pmax(t - 25, 0)
mu <- 45000 * exp(0.002 * t - 0.05 * level + 0.001 * slope)
y <- rnbinom(n, size = 250, mu = mu)
cat("y <- c(", paste(y, collapse = ", "), ")\n")
fit <- glm.nb(y ~ t + level + slope, control = glm.control(epsilon = 1e-10, maxit = 100))
s <- summary(fit)
cat("coef <- c(", paste(sprintf("%.15g", coef(fit)), collapse = ", "), ")\n")
cat("se <- c(", paste(sprintf("%.15g", s$coefficients[, 2]), collapse = ", "), ")\n")
cat("theta <-", sprintf("%.15g", fit$theta), "\n")
cat("theta_se <-", sprintf("%.15g", fit$SE.theta), "\n")
cat("twologlik <-", sprintf("%.15g", fit$twologlik), "\n")
cat("deviance <-", sprintf("%.15g", deviance(fit)), "\n")
