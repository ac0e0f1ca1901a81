"""Shared helpers: named random streams, the monthly time grid, timestamps."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from .config import SynthConfig

SECONDS_PER_DAY = 86_400

# Relative arrival intensity by hour of day for mental-health ED presentations (low before dawn,
# rising through the afternoon, peaking in the evening). Only the shape matters.
ED_HOUR_WEIGHTS = np.array(
    [3.0, 2.5, 2.0, 1.5, 1.2, 1.0, 1.2, 1.6, 2.2, 2.8, 3.2, 3.5, 3.7, 3.8, 3.9, 4.0, 4.2, 4.5, 4.8, 5.0,
     5.0, 4.8, 4.3, 3.6]
)  # fmt: skip
ELECTIVE_HOUR_WEIGHTS = np.array([0.0] * 8 + [3.0, 3.0, 2.0, 1.0, 1.0, 1.0] + [0.0] * 10)


def rng_for(seed: int, name: str) -> np.random.Generator:
    """Independent generator for one named component.

    The stream is keyed by the component's name (CRC-32), not by its position, so adding a new
    component never shifts the numbers drawn by the existing ones.
    """
    key = zlib.crc32(name.encode("utf-8"))
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(key,)))


def to_day(date: str) -> np.datetime64:
    """``YYYY-MM-DD`` → ``datetime64[D]``."""
    return np.datetime64(date, "D")


@dataclass(frozen=True)
class TimeGrid:
    """The monthly grid of the window: month starts, month lengths, calendar month numbers."""

    month_start: np.ndarray  # datetime64[D], shape (T,)
    days_in_month: np.ndarray  # int64, shape (T,)
    calendar_month: np.ndarray  # int64 1..12, shape (T,)
    start: np.datetime64  # datetime64[D]
    extract: np.datetime64  # datetime64[D]

    @property
    def n(self) -> int:
        return int(self.month_start.size)

    def month_index(self, day: np.datetime64) -> int:
        """Index of the month containing ``day`` (may be outside ``0..n-1``)."""
        m0 = self.start.astype("datetime64[M]")
        return int((np.datetime64(day, "D").astype("datetime64[M]") - m0).astype(int))


def make_grid(config: SynthConfig) -> TimeGrid:
    start = to_day(config.start)
    extract = to_day(config.extract_date)
    if start.astype("datetime64[M]").astype("datetime64[D]") != start:
        raise ValueError(f"start must be the first day of a month, got {config.start!r}")
    if extract.astype("datetime64[M]").astype("datetime64[D]") != extract:
        raise ValueError(f"extract_date must be the first day of a month, got {config.extract_date!r}")
    if extract <= start:
        raise ValueError("extract_date must be after start")
    months = np.arange(start.astype("datetime64[M]"), extract.astype("datetime64[M]"))
    month_start = months.astype("datetime64[D]")
    days = ((months + 1).astype("datetime64[D]") - month_start).astype(np.int64)
    cal = (months.astype(np.int64) % 12) + 1
    return TimeGrid(month_start, days, cal, start, extract)


def draw_times_in_months(
    rng: np.random.Generator,
    grid: TimeGrid,
    month_idx: np.ndarray,
    hour_weights: np.ndarray,
) -> np.ndarray:
    """Random timestamps (``datetime64[s]``) inside the given months of the grid.

    Month indices may lie outside the grid (used for out-of-window defect rows); the month is then
    computed from the grid start.
    """
    month_idx = np.asarray(month_idx, dtype=np.int64)
    months = grid.start.astype("datetime64[M]") + month_idx
    first = months.astype("datetime64[D]")
    ndays = ((months + 1).astype("datetime64[D]") - first).astype(np.int64)
    day = np.floor(rng.random(month_idx.size) * ndays).astype(np.int64)
    p = hour_weights / hour_weights.sum()
    hour = rng.choice(24, size=month_idx.size, p=p)
    secs = rng.integers(0, 3600, size=month_idx.size)
    return (first + day).astype("datetime64[s]") + (hour * 3600 + secs).astype("timedelta64[s]")


def expit(x: np.ndarray | float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


def logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))
