# Reference point types and limits for evaltoolkit.spc (tests/test_spc.py).
#
# Run from the repository root: Rscript tests/r/spc_reference.R   (R 4.2, base R only)
# Writes tests/r/spc_reference_xmr.csv and tests/r/spc_reference_laney.csv.
#
# What this is, honestly: NHSRplotthedots is not in the Debian archive and its source was not available to
# run here, so this is NOT the R package's output. It is a second, independent implementation, in base R,
# of the Making Data Count rules as published (NHSRplotthedots 0.2.2 documentation and vignettes; the MDC
# guidance and its November 2023 change to the two-in-three rule) and of the qicharts2 Laney p' formulas.
# It is written window by window (a rule is checked on every window of 7 or 3 points, as the published
# rule text reads), not run by run as the Python code is, so the two agree only if both read the rules the
# same way.
#
# Rules implemented (per rebase group):
#   centre = mean of the group; MR_t = |x_t - x_{t-1}| within the group; amr = mean(MR);
#   screening: drop MR >= 3.267 * amr once, recompute amr;
#   limits = centre +/- 2.66 amr; near = centre +/- (2/3)(2.66) amr;
#   outside: x > upl or x < lpl (strict);
#   shift: every point in some window of 7 consecutive points all strictly on one side of the centre;
#   trend: every point in some window of 7 points whose 6 differences are all > 0 (or all < 0);
#   two-in-three: in some window of 3 with >= 2 points "near" and all 3 strictly on one side of the centre,
#     the near points; "near" is beyond the near limit and inside the process limits ("ptd-0.2.2") or
#     beyond the near limit ("mdc");
#   label precedence: outside > trend > two-in-three > shift; direction = side of centre, except trend
#     points take the trend's direction (the later trend where a point is in two);
#   "mdc" only: if any fired rule points to improvement, the point is improvement (first such rule).

set.seed(20261205)

near_factor <- 2.66 * 2 / 3

limits_xmr <- function(y) {
  mr <- abs(diff(y))
  amr <- mean(mr)
  if (amr > 0) amr <- mean(mr[mr < 3.267 * amr])
  centre <- mean(y)
  c(centre = centre, lpl = centre - 2.66 * amr, upl = centre + 2.66 * amr,
    lnear = centre - near_factor * amr, unear = centre + near_factor * amr)
}

classify <- function(y, centre, lpl, upl, lnear, unear, improvement, rules) {
  n <- length(y)
  side <- sign(y - centre)
  outside <- ifelse(y > upl | y < lpl, side, 0)
  shift <- rep(0, n)
  trend <- rep(0, n)
  if (n >= 7) {
    for (i in 7:n) {
      w <- (i - 6):i
      if (all(side[w] == 1) || all(side[w] == -1)) shift[w] <- side[i]
      d <- diff(y[w])
      if (all(d > 0)) trend[w] <- 1
      if (all(d < 0)) trend[w] <- -1
    }
  }
  near <- y > unear | y < lnear
  if (rules == "ptd-0.2.2") near <- near & outside == 0
  tin3 <- rep(0, n)
  if (n >= 3) {
    for (i in 3:n) {
      w <- (i - 2):i
      if (sum(near[w]) >= 2 && abs(sum(side[w])) == 3) tin3[w[near[w]]] <- side[i]
    }
  }
  type <- character(n)
  rule <- character(n)
  for (i in seq_len(n)) {
    fired <- c(outside = outside[i], trend = trend[i], two_in_three = tin3[i], shift = shift[i])
    fired <- fired[fired != 0]
    if (length(fired) == 0) {
      type[i] <- "common_cause"
      rule[i] <- ""
      next
    }
    k <- 1
    if (rules == "mdc" && improvement != 0 && any(fired == improvement)) k <- which(fired == improvement)[1]
    rule[i] <- sub("^outside$", "outside_limits", names(fired)[k])
    dir <- fired[[k]]
    type[i] <- if (improvement == 0) {
      if (dir > 0) "special_cause_neutral_high" else "special_cause_neutral_low"
    } else if (dir == improvement) "special_cause_improvement" else "special_cause_concern"
  }
  data.frame(point_type = type, rule = rule)
}

# 15 series: noise, noise with a step (shift), a drift (trend), spikes (outside, two-in-three), integer
# rounding (ties and points on the mean); some rebased.
rows <- list()
for (s in 1:15) {
  n <- sample(20:40, 1)
  y <- rnorm(n, 10, 2)
  if (s %% 3 == 0) y[(n %/% 2):n] <- y[(n %/% 2):n] + 3
  if (s %% 4 == 0) y <- y + seq(0, 4, length.out = n)
  if (s %% 5 == 0) y[sample(n, 3)] <- y[sample(n, 3)] + c(7, 5, -6)
  if (s %% 7 == 0) y[5:12] <- 8 + 0.6 * (1:8)  # an increasing run of 8
  if (s %% 6 == 1) y[n - 8:1] <- 13 - 0.4 * (1:8)  # a decreasing run of 8, mostly above the mean
  if (s %% 2 == 0) y <- round(y)
  y <- round(y, 3)
  improvement <- if (s == 7) 1 else c(1, -1, 0)[(s %% 3) + 1]
  rebase_at <- if (s %% 4 == 1) n %/% 2 + 1 else NA
  group <- if (is.na(rebase_at)) rep(0, n) else as.numeric(seq_len(n) >= rebase_at)
  for (rules in c("mdc", "ptd-0.2.2")) {
    for (g in unique(group)) {
      m <- group == g
      L <- limits_xmr(y[m])
      cl <- classify(y[m], L[["centre"]], L[["lpl"]], L[["upl"]], L[["lnear"]], L[["unear"]], improvement, rules)
      rows[[length(rows) + 1]] <- data.frame(
        series = s, rules = rules, improvement = improvement, rebase_at = rebase_at, t = which(m),
        y = y[m], rebase_group = g, mean = L[["centre"]], lpl = L[["lpl"]], upl = L[["upl"]],
        point_type = cl$point_type, rule = cl$rule
      )
    }
  }
}
xmr_ref <- do.call(rbind, rows)
write.csv(xmr_ref, "tests/r/spc_reference_xmr.csv", row.names = FALSE)

# Laney p' (qicharts2 formulas): p_bar = sum(x)/sum(n); s_i = sqrt(p_bar(1-p_bar)/n_i);
# z_i = (p_i - p_bar)/s_i; sigma_z = mean(|diff(z)|)/1.128; limits p_bar +/- 3 s_i sigma_z in [0, 1].
# u': s_i = sqrt(u_bar/n_i), lower limit >= 0.
rows <- list()
for (s in 1:4) {
  n <- sample(80:400, 24, replace = TRUE)
  kind <- if (s <= 2) "p" else "u"
  rate <- if (kind == "p") 0.15 else 0.8
  extra <- rnorm(24, 0, if (s %% 2 == 0) 0.04 else 0.0)  # overdispersion in series 2 and 4
  x <- if (kind == "p") rbinom(24, n, pmin(pmax(rate + extra, 0.01), 0.99)) else rpois(24, n * pmax(rate + 4 * extra, 0.05))
  cbar <- sum(x) / sum(n)
  si <- if (kind == "p") sqrt(cbar * (1 - cbar) / n) else sqrt(cbar / n)
  z <- (x / n - cbar) / si
  sigma_z <- mean(abs(diff(z))) / 1.128
  top <- if (kind == "p") 1 else Inf
  rows[[s]] <- data.frame(
    series = s, kind = kind, t = 1:24, x = x, n = n, centre = cbar, sigma_z = sigma_z,
    lpl_laney = pmax(cbar - 3 * si * sigma_z, 0), upl_laney = pmin(cbar + 3 * si * sigma_z, top),
    lpl_plain = pmax(cbar - 3 * si, 0), upl_plain = pmin(cbar + 3 * si, top)
  )
}
write.csv(do.call(rbind, rows), "tests/r/spc_reference_laney.csv", row.names = FALSE)
