"""Rates per population with exact Poisson confidence intervals."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from evaltoolkit.errors import SeriesInputError
from evaltoolkit.series._engine import Engine, Input, Source, engine_aware, to_pandas, to_source

__all__ = ["rates"]


def _frame(data: Input, columns: Sequence[str], label: str) -> pd.DataFrame:
    """Return ``data`` as a pandas DataFrame (a copy for DataFrame input), checking ``columns`` exist."""
    if isinstance(data, pd.DataFrame):
        missing = [c for c in columns if c not in data.columns]
        if missing:
            raise SeriesInputError(
                f"{label} has no column(s) {missing}; its columns are {list(data.columns)}"
            )
        return data.reset_index(drop=True)
    src: Source = to_source(data, columns=dict.fromkeys(columns, "on/count/denominator"), label=label)
    return to_pandas(src.table)


def _describe(keys: pd.DataFrame, limit: int = 5) -> str:
    rows = []
    for rec in keys.head(limit).to_dict("records"):
        parts = []
        for k, v in rec.items():
            shown = v.date().isoformat() if isinstance(v, pd.Timestamp) and v == v.normalize() else v
            parts.append(f"{k}={shown!s}")
        rows.append("(" + ", ".join(parts) + ")")
    more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
    return "; ".join(rows) + more


def _align_key(counts: pd.DataFrame, denominators: pd.DataFrame, key: str) -> None:
    """Make a date-like key comparable on both sides (in place, on the copies)."""
    left, right = counts[key], denominators[key]
    left_dt = pd.api.types.is_datetime64_any_dtype(left)
    right_dt = pd.api.types.is_datetime64_any_dtype(right)
    if not (left_dt or right_dt):
        return
    for frame, side, is_dt in ((counts, "counts", left_dt), (denominators, "denominators", right_dt)):
        if not is_dt:
            from evaltoolkit.data.parse import check_date_text, strict_dates

            # One strict rule (ISO 8601 text or date objects): dd/mm text is refused, never guessed.
            check_date_text(frame[key], column=key, where=side, error=SeriesInputError)
            parsed, bad = strict_dates(frame[key])
            if bad.any():
                first = int(bad.to_numpy().nonzero()[0][0])
                raise SeriesInputError(
                    f"{side} column {key!r} could not be read as dates: {int(bad.sum())} row(s), first "
                    f"at row {first} (0-based row position), e.g. {frame[key].iloc[first]!r}; write dates "
                    "as YYYY-MM-DD"
                )
            frame[key] = parsed
        frame[key] = frame[key].astype("datetime64[us]")


@engine_aware("counts", "denominators")
def rates(
    counts: Input,
    denominators: Input,
    *,
    count: str = "count",
    denominator: str = "population",
    on: str | Sequence[str] = ("period", "site"),
    per: float = 100_000,
    conf_level: float = 0.95,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """Join counts to denominators and compute rates with exact Poisson confidence intervals.

    Parameters
    ----------
    counts : DataFrame (or any input the series builders accept)
        A series, e.g. from :func:`count_events`, with the columns in ``on`` and ``count``.
    denominators : DataFrame (or any accepted input)
        One row per ``on`` combination with ``denominator`` (e.g. the population extract: ``site``,
        ``period``, ``population``). Extra rows (e.g. other periods) are ignored.
    count : str, default "count"
        Column of event counts (non-negative whole numbers).
    denominator : str, default "population"
        Column of denominators (positive).
    on : str or sequence of str, default ("period", "site")
        Join keys. Date-like keys are compared as dates (a ``datetime.date`` period matches a Timestamp).
    per : float, default 100000
        Rate multiplier: the rate is ``count / denominator * per``.
    conf_level : float, default 0.95
        Confidence level of the interval.
    engine : {"duckdb", "spark"}, optional
        Where the work runs. Default: the embedded DuckDB engine, or Spark when an input is a Spark
        DataFrame (or an Ibis table on Spark). ``"spark"`` also sends pandas, pyarrow and file input to
        the active Spark session (``SparkSession.builder.getOrCreate()``). Both give identical results.

    Returns
    -------
    pandas.DataFrame
        The counts' columns, ``denominator``, ``rate``, ``rate_ci_lower``, ``rate_ci_upper``, sorted by the
        non-period keys then ``period``, with a RangeIndex.

    Raises
    ------
    SeriesInputError
        A key or column is missing; a count has no denominator (the message names the first periods/groups);
        denominators are duplicated, missing, zero or negative; counts are negative or not whole numbers.

    Notes
    -----
    The interval is the exact (Garwood) Poisson interval for the count *k*:
    ``[chi2.ppf(a/2, 2k) / 2, chi2.ppf(1 - a/2, 2k + 2) / 2]`` with ``a = 1 - conf_level`` (lower limit 0
    when *k* = 0), divided by the denominator and multiplied by ``per``. It treats the denominator as fixed.

    Examples
    --------
    >>> import pandas as pd
    >>> counts = pd.DataFrame({"period": pd.to_datetime(["2024-01-01", "2024-02-01"]),
    ...                        "site": ["A", "A"], "count": [0, 10]})
    >>> pop = pd.DataFrame({"period": pd.to_datetime(["2024-01-01", "2024-02-01"]),
    ...                     "site": ["A", "A"], "population": [50_000, 50_000]})
    >>> rates(counts, pop).round({"rate_ci_lower": 2, "rate_ci_upper": 2})
          period site  count  population  rate  rate_ci_lower  rate_ci_upper
    0 2024-01-01    A      0       50000   0.0           0.00           7.38
    1 2024-02-01    A     10       50000  20.0           9.59          36.78
    """
    keys = [on] if isinstance(on, str) else list(on)
    if not keys:
        raise SeriesInputError("on must name at least one key column")
    if not 0 < conf_level < 1:
        raise SeriesInputError(f"conf_level must be between 0 and 1, not {conf_level}")
    if not per > 0:
        raise SeriesInputError(f"per must be positive, not {per}")
    left = _frame(counts, [*keys, count], "counts")
    right = _frame(denominators, [*keys, denominator], "denominators")[[*keys, denominator]]
    if denominator in left.columns:
        raise SeriesInputError(f"counts already has a column {denominator!r}; drop or rename it first")
    for key in keys:
        _align_key(left, right, key)

    dup = right.duplicated(keys, keep=False)
    if dup.any():
        raise SeriesInputError(
            f"denominators have {int(dup.sum())} rows with repeated keys {keys}, e.g. "
            f"{_describe(right.loc[dup, keys].drop_duplicates())}; give one {denominator!r} per key"
        )
    merged = left.merge(right, on=keys, how="left", indicator="_et_merge", validate="many_to_one")
    absent = merged["_et_merge"] == "left_only"
    if absent.any():
        raise SeriesInputError(
            f"no denominator for {int(absent.sum())} count row(s): "
            f"{_describe(merged.loc[absent, keys].drop_duplicates())}"
        )
    merged = merged.drop(columns="_et_merge")
    denom = pd.to_numeric(merged[denominator], errors="coerce").astype("float64")
    bad_denom = denom.isna() | (denom <= 0)
    if bad_denom.any():
        raise SeriesInputError(
            f"denominator {denominator!r} is missing, zero or negative for {int(bad_denom.sum())} row(s): "
            f"{_describe(merged.loc[bad_denom, keys])}"
        )
    k = pd.to_numeric(merged[count], errors="coerce").astype("float64")
    bad_k = k.isna() | (k < 0) | (k != np.round(k))
    if bad_k.any():
        raise SeriesInputError(
            f"count {count!r} must be a non-negative whole number; {int(bad_k.sum())} row(s) are not: "
            f"{_describe(merged.loc[bad_k, keys])}"
        )
    from scipy import stats  # imported here: scipy.stats adds ~0.6 s to importing evaltoolkit.series

    alpha = 1 - conf_level
    kv = k.to_numpy()
    lower = np.where(kv > 0, stats.chi2.ppf(alpha / 2, 2 * np.maximum(kv, 1)) / 2, 0.0)
    upper = stats.chi2.ppf(1 - alpha / 2, 2 * kv + 2) / 2
    scale = per / denom.to_numpy()
    merged["rate"] = kv * scale
    merged["rate_ci_lower"] = lower * scale
    merged["rate_ci_upper"] = upper * scale
    order = [c for c in keys if c != "period"] + (["period"] if "period" in keys else [])
    return merged.sort_values(order, kind="stable").reset_index(drop=True)
