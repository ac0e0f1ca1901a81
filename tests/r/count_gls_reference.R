# Reference values for the quasi-likelihood GLS count model (fit_its, family poisson/quasipoisson,
# method gls-reml/gls-ml): iterated nlme::gls on the working response with weights mu and AR(1) errors.
# Run from the repository root: Rscript tests/r/count_gls_reference.R > tests/r/count_gls_reference.out
# The design matrices are exported by the toolkit (tests/fixtures/count_gls/*_design.csv); this script
# checks the estimator, not the design coding (validated elsewhere against R).
suppressMessages(library(nlme))
fit_case <- function(name, method) {
  d <- read.csv(sprintf("tests/fixtures/count_gls/%s_design.csv", name))
  X <- as.matrix(d[, grep("^x_", names(d))])
  y <- d$outcome
  off <- if ("offset" %in% names(d)) log(d$offset) else rep(0, nrow(d))
  b <- coef(glm(y ~ X - 1 + offset(off), family = poisson))
  for (i in 1:500) {
    eta <- drop(X %*% b) + off
    mu <- exp(eta)
    dd <- data.frame(z = eta - off + (y - mu) / mu, invw = 1 / mu, t = d$t, g = factor(d$series))
    dd <- cbind(dd, X)
    f <- as.formula(paste("z ~ -1 +", paste(colnames(X), collapse = " + ")))
    fit <- gls(f, data = dd, weights = varFixed(~invw), correlation = corAR1(form = ~ t | g),
               method = method, control = glsControl(tolerance = 1e-10, msTol = 1e-10))
    nb <- coef(fit)
    step <- max(abs(nb - b) / (1 + abs(nb)))
    b <- nb
    if (step < 1e-11) break
  }
  phi <- coef(fit$modelStruct$corStruct, unconstrained = FALSE)
  cat(sprintf("case %s %s iterations %d\n", name, method, i))
  cat(sprintf("phi %.10f\n", phi))
  cat(sprintf("sigma2 %.10f\n", fit$sigma^2))
  se <- sqrt(diag(vcov(fit)))
  for (k in seq_along(b)) cat(sprintf("coef %s %.10f %.10f\n", sub("^x_", "", names(b)[k]), b[k], se[k]))
}
for (m in c("REML", "ML")) for (nm in c("single", "offset", "controlled")) fit_case(nm, m)
