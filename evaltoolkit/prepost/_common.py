"""Shared helpers of :mod:`evaltoolkit.prepost`: validation, the tidy schema and small interval formulas."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal, TypeVar

import numpy as np
import pandas as pd
from scipy import optimize, stats

from evaltoolkit.prepost.errors import PrePostInputError

T = TypeVar("T")

PAdjust = Literal["holm", "bonferroni", "fdr_bh", "none"]
P_ADJUST_OPTIONS: tuple[str, ...] = ("holm", "bonferroni", "fdr_bh", "none")

ESTIMATE_COLUMNS: tuple[str, ...] = (
    "outcome",
    "term",
    "estimate",
    "std_error",
    "statistic",
    "df",
    "p_value",
    "p_adjusted",
    "ci_lower",
    "ci_upper",
    "conf_level",
    "n",
    "method",
)
"""Columns of every estimate table of :mod:`evaltoolkit.prepost`, in this order."""

_FLOAT_COLUMNS = ("estimate", "std_error", "statistic", "df", "p_value", "p_adjusted", "ci_lower", "ci_upper")
_SHOW_ROWS = 5


# ------------------------------------------------------------------------------------------ validation
def check_frame(data: object, label: str = "data") -> pd.DataFrame:
    """Return a copy of ``data`` with a fresh RangeIndex, or raise if it is not a pandas DataFrame."""
    if not isinstance(data, pd.DataFrame):
        raise PrePostInputError(f"{label} must be a pandas DataFrame, not {type(data).__name__}")
    return data.reset_index(drop=True).copy()


def check_columns(data: pd.DataFrame, columns: Iterable[str | None], label: str = "data") -> None:
    """Raise naming every requested column that ``data`` lacks."""
    wanted = [c for c in columns if c is not None]
    missing = [c for c in wanted if c not in data.columns]
    if missing:
        raise PrePostInputError(
            f"{label} has no column(s) {missing}; its columns are {list(map(str, data.columns))}"
        )


def check_literal(value: object, name: str, options: Sequence[object]) -> None:
    """Raise if ``value`` is not one of ``options``."""
    if value not in options:
        raise PrePostInputError(f"{name} must be one of {list(options)}, not {value!r}")


def check_conf_level(conf_level: float) -> float:
    """Return ``conf_level`` as a float strictly between 0 and 1, or raise."""
    if isinstance(conf_level, bool) or not isinstance(conf_level, int | float) or not 0 < conf_level < 1:
        raise PrePostInputError(
            f"conf_level must be a number between 0 and 1 (e.g. 0.95), not {conf_level!r}"
        )
    return float(conf_level)


def rows_text(mask: np.ndarray | pd.Series, label: str = "data") -> str:
    """``"3 row(s), at row(s) 0, 4, 7"`` for the True positions of ``mask`` (0-based positions)."""
    pos = np.flatnonzero(np.asarray(mask, dtype=bool))
    shown = ", ".join(str(int(p)) for p in pos[:_SHOW_ROWS]) + (", ..." if len(pos) > _SHOW_ROWS else "")
    return f"{len(pos)} row(s), at row(s) {shown} (0-based row positions in {label})"


def values_text(values: Iterable[object]) -> str:
    """The first few values, comma-separated, with an ellipsis when there are more."""
    vals = list(values)
    shown = ", ".join(str(v) for v in vals[:_SHOW_ROWS])
    return shown + (", ..." if len(vals) > _SHOW_ROWS else "")


def numeric_column(
    data: pd.DataFrame, column: str, label: str = "data", *, allow_missing: bool
) -> np.ndarray:
    """Column as float64; raise naming rows whose values are not numbers (or are missing, if not allowed)."""
    raw = data[column]
    if pd.api.types.is_bool_dtype(raw):
        raise PrePostInputError(f"{label}: column {column!r} holds booleans; numbers are needed")
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & raw.notna()
    if bad.any():
        raise PrePostInputError(f"{label}: {column!r} is not a number: {rows_text(bad, label)}")
    if not allow_missing and values.isna().any():
        raise PrePostInputError(f"{label}: {column!r} is missing: {rows_text(values.isna(), label)}")
    out = values.to_numpy(dtype="float64", na_value=np.nan)
    if np.isinf(out).any():
        raise PrePostInputError(f"{label}: {column!r} is infinite: {rows_text(np.isinf(out), label)}")
    huge = np.abs(out) > 1e15
    if huge.any():
        raise PrePostInputError(
            f"{label}: {column!r} is beyond ±1e15, where the arithmetic loses all precision: "
            f"{rows_text(huge, label)}"
        )
    return out


def outcome_groups(data: pd.DataFrame, outcome: str | None) -> list[tuple[str, pd.DataFrame]]:
    """Split long data by the ``outcome`` column (in order of first appearance), or one group ``"value"``."""
    if outcome is None:
        return [("value", data)]
    missing = data[outcome].isna()
    if missing.any():
        raise PrePostInputError(f"data: {outcome!r} (the outcome name) is missing: {rows_text(missing)}")
    names = list(dict.fromkeys(data[outcome].tolist()))
    return [(str(name), data[data[outcome] == name]) for name in names]


# ------------------------------------------------------------------------------------------ the table
def tidy(rows: Sequence[dict[str, Any]], conf_level: float) -> pd.DataFrame:
    """Build an estimate table with exactly :data:`ESTIMATE_COLUMNS` (missing entries become NaN)."""
    records = []
    for r in rows:
        rec = {c: r.get(c, np.nan) for c in ESTIMATE_COLUMNS}
        rec["conf_level"] = conf_level
        records.append(rec)
    out = pd.DataFrame.from_records(records, columns=list(ESTIMATE_COLUMNS))
    for c in _FLOAT_COLUMNS:
        out[c] = pd.to_numeric(out[c], errors="coerce").astype("float64")
    out["conf_level"] = out["conf_level"].astype("float64")
    out["n"] = out["n"].astype("int64")
    out["outcome"] = out["outcome"].astype(str)
    out["term"] = out["term"].astype(str)
    out["method"] = out["method"].astype(str)
    return out


def adjust_p(table: pd.DataFrame, method: str, terms: Sequence[str]) -> pd.DataFrame:
    """Fill ``p_adjusted`` for ``terms``: adjusted across outcomes, separately for each term."""
    check_literal(method, "p_adjust", P_ADJUST_OPTIONS)
    out = table.copy()
    for term in terms:
        sel = (out["term"] == term) & out["p_value"].notna()
        if sel.any():
            out.loc[sel, "p_adjusted"] = adjusted_p_values(
                out.loc[sel, "p_value"].to_numpy(dtype=float), method
            )
    return out


def adjusted_p_values(p: np.ndarray, method: str) -> np.ndarray:
    """Holm, Bonferroni or Benjamini–Hochberg adjusted p-values (as ``statsmodels`` ``multipletests``).

    Written out here because ``multipletests`` runs a full garbage collection on every call.
    """
    p = np.asarray(p, dtype=float)
    m = len(p)
    if method == "none" or m == 0:
        return p.copy()
    if method == "bonferroni":
        return np.minimum(1.0, p * m)
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    if method == "holm":
        adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * ranked))
    else:  # fdr_bh
        adj = np.minimum(1.0, np.minimum.accumulate(m / np.arange(m, 0, -1) * ranked[::-1])[::-1])
    out = np.empty(m)
    out[order] = adj
    return out


def p_adjust_text(method: str) -> str:
    """How ``p_adjusted`` was computed, for method strings."""
    names = {"holm": "Holm", "bonferroni": "Bonferroni", "fdr_bh": "Benjamini-Hochberg FDR", "none": "none"}
    return f"p_adjusted: {names[method]} across outcomes"


# ------------------------------------------------------------------------------------------ intervals
def z_crit(conf_level: float) -> float:
    """Two-sided normal critical value."""
    return float(stats.norm.ppf(0.5 + conf_level / 2))


def t_crit(conf_level: float, df: float) -> float:
    """Two-sided t critical value."""
    return float(stats.t.ppf(0.5 + conf_level / 2, df))


def mean_interval(x: np.ndarray, conf_level: float) -> dict[str, float]:
    """Mean with its standard error and t interval (NaN where fewer than two values)."""
    n = len(x)
    if n == 0:
        return {"estimate": np.nan, "n": 0}
    m = float(np.mean(x))
    if n < 2:
        return {"estimate": m, "n": n}
    se = float(np.std(x, ddof=1) / math.sqrt(n))
    q = t_crit(conf_level, n - 1)
    return {
        "estimate": m,
        "std_error": se,
        "df": n - 1,
        "ci_lower": m - q * se,
        "ci_upper": m + q * se,
        "n": n,
    }


def paired_t(post: np.ndarray, pre: np.ndarray, conf_level: float) -> dict[str, Any]:
    """Paired t test of ``post - pre`` with pingouin; the interval is computed here from the t quantile.

    pingouin rounds its ``CI95`` column for display, so only ``T``, ``dof`` and ``p_val`` are taken
    from it. When every difference is the same, t is undefined: the interval collapses to the mean and
    ``p_value`` is NaN.
    """
    import pingouin as pg

    d = post - pre
    n = len(d)
    est = float(np.mean(d))
    sd = float(np.std(d, ddof=1))
    if sd == 0.0:
        return {
            "estimate": est,
            "std_error": 0.0,
            "df": n - 1,
            "ci_lower": est,
            "ci_upper": est,
            "n": n,
            "note": "every difference is the same, so t is undefined (p_value NaN)",
        }
    res = pg.ttest(post, pre, paired=True, confidence=conf_level).iloc[0]
    se = sd / math.sqrt(n)
    q = t_crit(conf_level, n - 1)
    return {
        "estimate": est,
        "std_error": se,
        "statistic": float(res["T"]),
        "df": float(res["dof"]),
        "p_value": float(res["p_val"]),
        "ci_lower": est - q * se,
        "ci_upper": est + q * se,
        "n": n,
    }


def welch(x: np.ndarray, y: np.ndarray, conf_level: float) -> dict[str, Any]:
    """Welch two-sample comparison of mean(x) − mean(y) (NaN where either group has fewer than 2)."""
    nx, ny = len(x), len(y)
    est = float(np.mean(x) - np.mean(y)) if nx and ny else np.nan
    if nx < 2 or ny < 2:
        return {"estimate": est, "n": nx + ny}
    vx, vy = np.var(x, ddof=1) / nx, np.var(y, ddof=1) / ny
    se = float(math.sqrt(vx + vy))
    if se == 0.0:
        return {"estimate": est, "std_error": 0.0, "ci_lower": est, "ci_upper": est, "n": nx + ny}
    df = float((vx + vy) ** 2 / (vx**2 / (nx - 1) + vy**2 / (ny - 1)))
    t = est / se
    q = t_crit(conf_level, df)
    return {
        "estimate": est,
        "std_error": se,
        "statistic": t,
        "df": df,
        "p_value": float(2 * stats.t.sf(abs(t), df)),
        "ci_lower": est - q * se,
        "ci_upper": est + q * se,
        "n": nx + ny,
    }


def median_interval(d: np.ndarray, conf_level: float) -> dict[str, Any]:
    """Median with the distribution-free order-statistic interval (binomial, at least ``conf_level``).

    The interval is ``[d_(k), d_(n-k+1)]`` of the sorted values with ``k`` the largest integer such that
    ``P(Binomial(n, 1/2) <= k - 1) <= (1 - conf_level) / 2``; it is NaN when n is too small for any
    such ``k`` (n < 6 at 95 %).
    """
    n = len(d)
    est = float(np.median(d))
    alpha = 1 - conf_level
    k = int(stats.binom.ppf(alpha / 2, n, 0.5))  # smallest k with cdf(k) >= alpha / 2
    if stats.binom.cdf(k, n, 0.5) > alpha / 2:
        k -= 1  # now cdf(k) <= alpha / 2, so [d_(k+1), d_(n-k)] (1-based) covers with >= conf_level
    if k < 0:
        return {"estimate": est, "n": n}
    s = np.sort(d)
    return {"estimate": est, "ci_lower": float(s[k]), "ci_upper": float(s[n - k - 1]), "n": n}


def wilcoxon(d: np.ndarray) -> dict[str, Any]:
    """Wilcoxon signed-rank test of differences ``d`` with pingouin (zeros dropped, continuity correction).

    pingouin is called on the differences (one-sample form), which runs the same
    :func:`scipy.stats.wilcoxon` call as the paired form without building pingouin's n × n
    common-language effect size. With no non-zero difference the test is undefined (NaN).

    The returned ``statistic`` is scipy's two-sided statistic ``min(W+, W−)``, where ``W+`` is the sum of
    the ranks of ``|d|`` (zeros dropped, ties given average ranks) over the positive differences and
    ``W−`` over the negative ones. R's ``wilcox.test(x, y, paired = TRUE)`` reports ``V = W+`` for
    ``d = x − y`` instead. With ``n`` non-zero differences ``W+ + W− = n(n + 1)/2``, so ``V`` equals
    ``statistic`` when the positive ranks have the smaller sum and ``n(n + 1)/2 − statistic`` otherwise;
    the two-sided p-value does not depend on which is reported.
    """
    import pingouin as pg

    nonzero = d[d != 0]
    if len(nonzero) == 0:
        return {"note": "every difference is zero, so the Wilcoxon test is undefined (p_value NaN)"}
    res = pg.wilcoxon(d).iloc[0]
    return {"statistic": float(res["W_val"]), "p_value": float(res["p_val"])}


def wilson(k: float, n: float, conf_level: float) -> tuple[float, float]:
    """Wilson score interval for a proportion ``k / n``."""
    if n == 0:
        return (np.nan, np.nan)
    z = z_crit(conf_level)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def paired_change(a: int, b: int, c: int, d: int, conf_level: float) -> dict[str, Any]:
    """Change in a paired proportion from its 2 × 2 table: the estimate and Newcombe interval
    (:func:`newcombe_paired`) and McNemar's test (exact binomial below 25 discordant pairs, else chi-square
    with continuity correction; p = 1 without discordant pairs).

    Returns ``{estimate, ci_lower, ci_upper, statistic, p_value, test}``.
    """
    from statsmodels.stats.contingency_tables import mcnemar

    est, lo, hi = newcombe_paired(a, b, c, d, conf_level)
    if b + c == 0:
        stat, p, test = 0.0, 1.0, "McNemar: no discordant patients, p = 1"
    else:
        exact = b + c < 25
        res = mcnemar(np.array([[a, b], [c, d]]), exact=exact, correction=True)
        stat, p = float(res.statistic), float(res.pvalue)
        test = "McNemar exact binomial" if exact else "McNemar chi-square with continuity correction"
    return {"estimate": est, "ci_lower": lo, "ci_upper": hi, "statistic": stat, "p_value": p, "test": test}


def newcombe_paired(a: int, b: int, c: int, d: int, conf_level: float) -> tuple[float, float, float]:
    """Paired difference of proportions (second − first) with Newcombe's (1998) method 10 interval.

    The 2 × 2 table is ``a`` = event in both windows, ``b`` = first only, ``c`` = second only,
    ``d`` = neither. Wilson limits for each margin are combined with the continuity-corrected
    correlation ``phi`` as in Newcombe (1998), *Statistics in Medicine* 17: 2635–2650.
    """
    n = a + b + c + d
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = wilson(a + b, n, conf_level)
    l2, u2 = wilson(a + c, n, conf_level)
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    phi = 0.0
    if margins > 0:
        cross = a * d - b * c
        if cross > n / 2:
            phi = (cross - n / 2) / math.sqrt(margins)
        elif cross < 0:
            phi = cross / math.sqrt(margins)
    est = p1 - p2  # first − second, as Newcombe; flipped below
    lower = est - math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    upper = est + math.sqrt(max(0.0, (p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2))
    return (-est, -upper, -lower)


def nct_interval(t_obs: float, df: float, conf_level: float) -> tuple[float, float]:
    """Noncentrality limits ``(lower, upper)`` whose t distributions put ``t_obs`` at the tail quantiles."""
    alpha = 1 - conf_level

    def solve(target: float) -> float:
        def f(ncp: float) -> float:
            p = float(stats.nct.cdf(t_obs, df, ncp))
            if not math.isfinite(p):  # scipy returns NaN far in the tails, where the cdf is ~0 or ~1
                p = 0.0 if ncp > t_obs else 1.0
            return p - target

        # The limits lie about z · sqrt(1 + t²/(2 df)) from t_obs; start a little wider, widen if needed.
        width = (z_crit(conf_level) + 2) * math.sqrt(1 + t_obs * t_obs / (2 * df)) + 1
        lo, hi = t_obs - width, t_obs + width
        for _ in range(60):
            if f(lo) > 0 > f(hi):
                break
            width *= 2
            lo, hi = t_obs - width, t_obs + width
        return float(optimize.brentq(f, lo, hi, xtol=1e-10))

    return (solve(1 - alpha / 2), solve(alpha / 2))


# ------------------------------------------------------------------------------------------ fitting
def _fit_warning_categories() -> tuple[type[Warning], ...]:
    from statsmodels.tools.sm_exceptions import (
        ConvergenceWarning,
        HessianInversionWarning,
        IterationLimitWarning,
        PerfectSeparationWarning,
        SingularMatrixWarning,
    )

    return (
        ConvergenceWarning,
        HessianInversionWarning,
        IterationLimitWarning,
        PerfectSeparationWarning,
        SingularMatrixWarning,
    )


FIT_WARNINGS: tuple[type[Warning], ...] = _fit_warning_categories()
"""statsmodels warnings about a model fit (convergence, Hessian inversion, iteration limit, perfect
separation, singular covariance) that :func:`capture_warnings` records as notes instead of showing."""

_REISSUED: dict[Any, Any] = {}  # warning registry of reissued warnings ("default" shows each once)


@contextmanager
def record_warnings(categories: tuple[type[Warning], ...]) -> Iterator[list[warnings.WarningMessage]]:
    """Record every warning of ``categories`` raised in the block (in the yielded list, filled on exit).

    Warnings of other categories are not recorded: they go through the caller's filters as usual (an
    ``"error"`` filter raises them at once; otherwise they are shown once the block ends), so a
    ``DeprecationWarning`` or ``FutureWarning`` from a dependency is never turned into a published note.

    Examples
    --------
    >>> with record_warnings((RuntimeWarning,)) as caught:
    ...     warnings.warn("noted", RuntimeWarning)
    >>> [str(w.message) for w in caught]
    ['noted']
    """
    recorded: list[warnings.WarningMessage] = []
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            for category in categories:
                warnings.simplefilter("always", category)
            yield recorded
    finally:
        for w in caught:
            if issubclass(w.category, categories):
                recorded.append(w)
            else:
                warnings.warn_explicit(
                    w.message, w.category, w.filename, w.lineno, registry=_REISSUED, source=w.source
                )


def capture_warnings(fit: Callable[[], T]) -> tuple[T, list[str]]:
    """Run ``fit`` recording (not showing) its model-fit warnings (:data:`FIT_WARNINGS`); return the
    result and the distinct messages. Other warnings pass through the caller's filters."""
    with record_warnings(FIT_WARNINGS) as caught:
        result = fit()
    messages = list(dict.fromkeys(f"{w.category.__name__}: {str(w.message).splitlines()[0]}" for w in caught))
    return result, messages
