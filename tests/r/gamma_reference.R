# Reference numbers for family="gamma" (Gamma GLM, log link) in evaltoolkit.its.fit_its.
# Run: Rscript tests/r/gamma_reference.R   (R 4.2, sandwich). Output pasted into tests/test_its_gamma.py.
# Coding as evaltoolkit (Stata itsa): time t = 1..n, level = t >= T, slope = pmax(t - T, 0).
suppressMessages(library(sandwich))
options(digits = 15)
ctl <- glm.control(epsilon = 1e-14, maxit = 200)  # tighter than the default 1e-8: reference digits

report <- function(label, fit) {
  s <- summary(fit)
  nw <- sqrt(diag(NeweyWest(fit, lag = 1, prewhite = FALSE, adjust = TRUE)))
  cat("##", label, "\n")
  cat("coef <- c(", paste(sprintf("%.15g", coef(fit)), collapse = ", "), ")\n")
  cat("se <- c(", paste(sprintf("%.15g", s$coefficients[, 2]), collapse = ", "), ")\n")
  cat("p_t <- c(", paste(sprintf("%.15g", s$coefficients[, 4]), collapse = ", "), ")\n")
  cat("dispersion <-", sprintf("%.15g", s$dispersion), "\n")
  cat("deviance <-", sprintf("%.15g", deviance(fit)), "\n")
  cat("df_resid <-", df.residual(fit), "\n")
  cat("nw_se <- c(", paste(sprintf("%.15g", nw), collapse = ", "), ")\n\n")
}

# (a) synthetic quarterly mean length of stay: 16 + 16 quarters from 2015 Q1, change at t = 17 (2019 Q1)
set.seed(20261204)
n <- 32
t <- 1:n
level <- as.numeric(t >= 17)
slope <- pmax(t - 17, 0)
quarter <- ((t - 1) %% 4) + 1
mu <- exp(log(30) + 0.01 * t - 0.15 * level - 0.005 * slope + 0.05 * sin(2 * pi * quarter / 4))
shape <- 40
los <- round(rgamma(n, shape = shape, rate = shape / mu), 4)
cat("## data (a): quarterly mean LOS from 2015-01-01\n")
cat("los <- c(", paste(sprintf("%.4f", los), collapse = ", "), ")\n\n")
s1 <- sin(2 * pi * quarter / 4)
c1 <- cos(2 * pi * quarter / 4)
report("(a1) synthetic, no seasonality", glm(los ~ t + level + slope, family = Gamma(link = "log"), control = ctl))
report("(a2) synthetic, one Fourier pair (quarter/4)",
       glm(los ~ t + level + slope + s1 + c1, family = Gamma(link = "log"), control = ctl))

# (b) Sicily: rate = aces / stdpop * 1e5, smoking ban from t = 37 (January 2005)
sic <- read.csv("/work/shared/reference/sicily.csv")
sic$rate <- sic$aces / sic$stdpop * 1e5
sic$level <- as.numeric(sic$time >= 37)
sic$slope <- pmax(sic$time - 37, 0)
sic$s1 <- sin(2 * pi * sic$month / 12)
sic$c1 <- cos(2 * pi * sic$month / 12)
report("(b1) Sicily rate", glm(rate ~ time + level + slope, family = Gamma(link = "log"), control = ctl, data = sic))
report("(b2) Sicily rate, one Fourier pair (month/12)",
       glm(rate ~ time + level + slope + s1 + c1, family = Gamma(link = "log"), control = ctl, data = sic))
