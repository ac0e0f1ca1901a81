# Reference numbers for regression with ARMA(p, q) errors (tests/test_its_arma.py).
#
# Run from the repository root: Rscript tests/r/arma_reference.R   (R 4.2, stats::arima, nlme)
# Writes tests/r/arma_reference.json (base R only: the JSON is written by hand, no jsonlite).
#
# Design matrices are built here from the written coding of evaltoolkit.its.design (Stata itsa):
#   t = 1..n, T = first post-interruption period,
#   intercept = 1, pre_slope = t, level_change = 1{t >= T}, slope_change = max(t - T, 0);
#   controlled: plus diff_intercept = 1{treated}, diff_pre_slope = 1{treated} t,
#               diff_level_change = 1{treated} 1{t >= T}, diff_slope_change = 1{treated} max(t - T, 0).
# Single series: stats::arima(y, order = c(p, 0, q), xreg = X, include.mean = FALSE, method = "ML") with
# its default optimiser settings except a tighter BFGS tolerance (reltol = 1e-12; R's default 1e-8 stops
# ~1e-5 short of the optimum) so that the optimum itself is compared; SEs are R's (inverse of optim's
# finite-difference Hessian, ndeps = 1e-3). Controlled: nlme::gls(corARMA(p, q, form = ~ t | series),
# method = "ML"), whose likelihood is the same exact Gaussian likelihood summed over series.
# Every case also gets "se_exact": SEs from a central-difference Hessian (steps 1e-3 SE, in two passes) of the
# exact concentrated log-likelihood written out below from stats::ARMAacf and chol(), evaluated at R's
# estimates: a reference for the SEs that does not carry optim's coarse finite differences (ndeps 1e-3),
# and the only SE reference for the controlled case (nlme reports GLS SEs, not the observed information).

suppressPackageStartupMessages(library(nlme))

design <- function(n, T) {
  t <- seq_len(n)
  cbind(intercept = 1, pre_slope = t, level_change = as.numeric(t >= T), slope_change = pmax(t - T, 0))
}

# Exact Gaussian log-likelihood of regression with ARMA errors, sigma^2 concentrated out, summed over
# independent series sharing all parameters; par = (beta, ar, ma).
exact_ll <- function(par, ys, Xs, p, q) {
  k <- ncol(Xs[[1]])
  beta <- par[1:k]
  ar <- par[k + seq_len(p)]
  ma <- par[k + p + seq_len(q)]
  n <- 0
  ss <- 0
  ld <- 0
  for (i in seq_along(ys)) {
    m <- length(ys[[i]])
    U <- chol(toeplitz(ARMAacf(ar, ma, lag.max = m - 1)[seq_len(m)]))
    w <- backsolve(U, ys[[i]] - Xs[[i]] %*% beta, transpose = TRUE)
    ss <- ss + sum(w^2)
    ld <- ld + 2 * sum(log(diag(U)))
    n <- n + m
  }
  -n / 2 * (log(2 * pi * ss / n) + 1) - ld / 2
}
hessian_se <- function(par, f, h = 1e-4 * (abs(par) + 0.01), refine = TRUE) {
  k <- length(par)
  H <- matrix(0, k, k)
  f0 <- f(par)
  for (i in 1:k) {
    ei <- replace(numeric(k), i, h[i])
    H[i, i] <- (f(par + 2 * ei) - 2 * f0 + f(par - 2 * ei)) / (4 * h[i]^2)
    for (j in seq_len(i - 1)) {
      ej <- replace(numeric(k), j, h[j])
      H[i, j] <- H[j, i] <- (f(par + ei + ej) - f(par + ei - ej) - f(par - ei + ej) + f(par - ei - ej)) /
        (4 * h[i] * h[j])
    }
  }
  se <- sqrt(diag(solve(-H)))
  # second pass with steps scaled to each SE (1e-3 SE): rounding and truncation errors both ~1e-6 relative
  if (refine) hessian_se(par, f, h = 1e-3 * se, refine = FALSE) else se
}

fit_arima <- function(y, X, p, q) {
  fit <- arima(y, order = c(p, 0, q), xreg = X, include.mean = FALSE, method = "ML",
               optim.control = list(reltol = 1e-12, maxit = 1000))
  se <- sqrt(diag(fit$var.coef))
  cf <- coef(fit)
  par <- c(cf[colnames(X)], cf[seq_len(p + q)])  # (beta, ar, ma)
  se_exact <- hessian_se(par, function(v) exact_ll(v, list(as.numeric(y)), list(X), p, q))
  stopifnot(abs(exact_ll(par, list(as.numeric(y)), list(X), p, q) - fit$loglik) < 1e-6)
  list(
    n = length(y), p = p, q = q, y = as.numeric(y),
    coef_names = names(cf), coef = unname(cf), se = unname(se),
    se_exact = unname(c(se_exact[k_arma <- ncol(X) + seq_len(p + q)], se_exact[seq_len(ncol(X))])),
    sigma2 = fit$sigma2, loglik = fit$loglik, aic = fit$aic
  )
}

# ---- case 1: Sicily smoking ban (rate = aces / stdpop * 1e5, ban from time 37), ARMA(1,1) and MA(1) ----
sic <- read.csv("tests/fixtures/sicily.csv")  # copy of the tutorial data (md5 in the test)
rate <- sic$aces / sic$stdpop * 1e5
Xs <- design(nrow(sic), 37)
cases <- list()
cases$sicily_arma11 <- c(fit_arima(rate, Xs, 1, 1), list(T = 37))
cases$sicily_ma1 <- c(fit_arima(rate, Xs, 0, 1), list(T = 37))

# ---- simulated series: level + slope change, ARMA errors ----
sim <- function(seed, n, T, ar, ma, sd = 1) {
  set.seed(seed)
  e <- arima.sim(list(ar = ar, ma = ma), n = n, sd = sd)
  X <- design(n, T)
  y <- as.numeric(X %*% c(10, 0.2, -3, 0.15) + e)
  list(y = y, X = X)
}
s1 <- sim(101, 120, 61, ar = 0.5, ma = 0.4)
cases$sim_arma11 <- c(fit_arima(s1$y, s1$X, 1, 1), list(T = 61))
s2 <- sim(202, 80, 41, ar = numeric(0), ma = 0.6)
cases$sim_ma1 <- c(fit_arima(s2$y, s2$X, 0, 1), list(T = 41))
s3 <- sim(303, 150, 91, ar = c(0.5, -0.3), ma = 0.5)
cases$sim_ar2ma1 <- c(fit_arima(s3$y, s3$X, 2, 1), list(T = 91))

# ---- controlled: two series (control, treated), ARMA(1,1) errors with shared parameters ----
set.seed(404)
n <- 72
T <- 43
t <- seq_len(n)
rows <- list()
for (s in c("control", "treated")) {
  tr <- as.numeric(s == "treated")
  e <- arima.sim(list(ar = 0.6, ma = 0.3), n = n, sd = 1.5)
  mu <- 30 + 0.1 * t + tr * (2 + 0.05 * t) + tr * (-4 * (t >= T) + 0.1 * pmax(t - T, 0)) + 1 * (t >= T)
  rows[[s]] <- data.frame(series = s, t = t, y = as.numeric(mu + e), tr = tr)
}
d <- do.call(rbind, rows)
d$post <- as.numeric(d$t >= T)
d$since <- pmax(d$t - T, 0)
g <- gls(y ~ t + post + since + tr + I(tr * t) + I(tr * post) + I(tr * since), data = d,
         correlation = corARMA(p = 1, q = 1, form = ~ t | series), method = "ML",
         control = glsControl(tolerance = 1e-10, msTol = 1e-10, msMaxIter = 500, maxIter = 500))
cs <- coef(g$modelStruct$corStruct, unconstrained = FALSE)
Xc <- lapply(split(d, d$series), function(b) cbind(1, b$t, b$post, b$since, b$tr, b$tr * b$t, b$tr * b$post,
                                                   b$tr * b$since))
yc <- lapply(split(d, d$series), function(b) b$y)
llc <- function(v) exact_ll(v, yc, Xc, 1, 1)
stopifnot(abs(llc(c(coef(g), cs)) - as.numeric(logLik(g))) < 1e-6)
se_exact_c <- hessian_se(unname(c(coef(g), cs)), llc)
cases$controlled_arma11 <- list(
  n = n, T = T, p = 1, q = 1, series = d$series, y = d$y,
  coef_names = c("intercept", "pre_slope", "level_change", "slope_change", "diff_intercept",
                 "diff_pre_slope", "diff_level_change", "diff_slope_change"),
  coef = unname(coef(g)), se_gls = unname(sqrt(diag(vcov(g)))), se_exact = se_exact_c,
  arma = unname(cs), sigma = g$sigma, loglik = as.numeric(logLik(g)), aic = AIC(g)
)
# Same likelihood on one series: nlme corARMA ML and stats::arima ML agree (sign convention check).
g1 <- gls(y ~ t + post + since, data = d[d$series == "control", ],
          correlation = corARMA(p = 1, q = 1, form = ~ t), method = "ML",
          control = glsControl(tolerance = 1e-10, msTol = 1e-10, msMaxIter = 500, maxIter = 500))
cases$controlled_arma11$check_single_gls <- list(
  coef = unname(coef(g1)), arma = unname(coef(g1$modelStruct$corStruct, unconstrained = FALSE)),
  loglik = as.numeric(logLik(g1))
)

# ---- hand-written JSON ----
num <- function(x) {
  s <- ifelse(is.finite(x), sprintf("%.17g", x), "null")
  if (length(x) == 1) s else paste0("[", paste(s, collapse = ", "), "]")
}
to_json <- function(x, indent = "") {
  inner <- paste0(indent, "  ")
  if (is.list(x)) {
    items <- vapply(names(x), function(k) paste0(inner, "\"", k, "\": ", to_json(x[[k]], inner)), "")
    return(paste0("{\n", paste(items, collapse = ",\n"), "\n", indent, "}"))
  }
  if (is.character(x)) return(paste0("[", paste0("\"", x, "\"", collapse = ", "), "]"))
  if (length(x) > 1 || !is.null(names(x))) return(paste0("[", paste(sprintf("%.17g", x), collapse = ", "), "]"))
  num(x)
}
meta <- sprintf("  \"r_version\": \"%s\",\n  \"nlme_version\": \"%s\",\n", R.version.string, packageVersion("nlme"))
body <- to_json(list(cases = cases))
body <- sub("^\\{\n", paste0("{\n", meta), body)
writeLines(body, "tests/r/arma_reference.json")
cat("wrote tests/r/arma_reference.json\n")
