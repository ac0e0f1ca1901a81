"""Bad inputs at every entry point fail loudly: the toolkit's own exception (or a documented exit code) and
words that locate the fault. No case passes by catching a dependency's exception: ``pytest.raises`` is given
``EvalToolkitError`` only, so a raw pandas/numpy/statsmodels error fails the test, and the class of the
exception is checked to be defined in evaltoolkit.

Exit codes of the command line: 0 ok, 1 invalid data or protocol, 2 usage, 3 internal error (a bug).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from evaltoolkit.cli import _CLI_ADVICE, EXIT_INTERNAL, EXIT_INVALID, EXIT_USAGE, _cli_text, app
from evaltoolkit.data import (
    clean_extract,
    find_extract_files,
    load_extracts,
    load_mapping,
    load_source,
    read_extract,
)
from evaltoolkit.errors import (
    ColumnMappingError,
    EvalToolkitError,
    ExtractValidationError,
    MissingInputError,
    ProtocolError,
    SeriesInputError,
)
from evaltoolkit.its import ITSInputError, compare_methods, fit_its
from evaltoolkit.its.power import power
from evaltoolkit.prepost import (
    PrePostInputError,
    analysed_n,
    effect_size_intervals,
    mirror_change,
    paired_change,
    rtm_statement,
)
from evaltoolkit.protocol import check_protocol, load_protocol, protocol_from_dict, validate_protocol
from evaltoolkit.report.results_schema import ESTIMATE_KEYS
from evaltoolkit.rom import (
    InstrumentDefinitionError,
    RomInputError,
    change_summary,
    data_quality,
    load_definition,
    reliable_change,
    reverse_score,
    score,
    talking_therapies_summary,
)
from evaltoolkit.rom.scoring import check_prorate
from evaltoolkit.schemas import get_schema
from evaltoolkit.series import bed_days, count_events, rates

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "synthetic_data"
PROTOCOLS = ROOT / "protocols"
runner = CliRunner()

BOMB = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "\n".join(
        f"{n}: &{n} [" + ",".join([f"*{p}"] * 9) + "]" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "\n"
)  # 9**9 ≈ 387 million strings once expanded


# -- API cases ----------------------------------------------------------------------------------------
def _its(n: int = 24, y: object = None) -> pd.DataFrame:
    d = pd.DataFrame({"month": pd.date_range("2022-01-01", periods=n, freq="MS")})
    d["y"] = np.arange(n, dtype=float) + np.sin(np.arange(n)) if y is None else y
    return d


def _fit(y: object = None, n: int = 24, **kw: object) -> Callable[[], object]:
    kw = {"outcome": "y", "time": "month", "interruptions": "2023-01-01", **kw}
    return lambda: fit_its(_its(n, y), **kw)


def _phq(value: object = 1, **extra: object) -> pd.DataFrame:
    return pd.DataFrame({**{f"phq9_{i}": [value] for i in range(1, 10)}, **extra})


def _pp(values: list[float], times: tuple[str, str] = ("a", "b")) -> pd.DataFrame:
    n = len(values) // 2
    return pd.DataFrame({"s": np.repeat(np.arange(n), 2), "t": list(times) * n, "v": values})


_PC = {"subject": "s", "time": "t", "value": "v"}
_EV = pd.DataFrame({"d": ["2024-01-05", "2024-02-07"]})


def _write(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


# (id, call, exception class, words that must appear in the message). A call taking one argument gets
# a temporary folder.
API_CASES: list[tuple[str, Callable[..., object], type[EvalToolkitError], list[str]]] = [
    # ITS: fit_its
    (
        "its-not-frame",
        lambda: fit_its([1, 2], outcome="y", time="month", interruptions="2022-07-01"),
        ITSInputError,
        ["DataFrame", "list"],
    ),
    (
        "its-empty",
        lambda: fit_its(_its().iloc[:0], outcome="y", time="month", interruptions="2022-07-01"),
        ITSInputError,
        ["no rows"],
    ),
    ("its-missing-outcome", _fit(outcome="z"), ITSInputError, ["'z'", "not found", "month"]),
    ("its-missing-time", _fit(time="when"), ITSInputError, ["'when'", "not found"]),
    ("its-inf", _fit(y=np.r_[np.inf, np.arange(23.0)]), ITSInputError, ["'y'", "infinite", "row 0"]),
    ("its-nan", _fit(y=np.r_[np.nan, np.arange(23.0)]), ITSInputError, ["'y'", "missing", "row 0"]),
    ("its-1e300", _fit(y=np.r_[1e300, np.arange(23.0)]), ITSInputError, ["'y'", "1e+15", "row 0", "1e+300"]),
    (
        "its-1e300-poisson",
        _fit(y=np.r_[1e300, np.arange(23.0)], family="poisson"),
        ITSInputError,
        ["'y'", "1e+15", "row 0"],
    ),
    ("its-1e300-gls", _fit(y=np.r_[1e300, np.arange(23.0)], method="gls-reml"), ITSInputError, ["1e+15"]),
    ("its-constant", _fit(y=np.full(24, 5.0)), ITSInputError, ["'y'", "constant", "24 fitted periods"]),
    ("its-constant-arima", _fit(y=np.full(24, 5.0), method="arima"), ITSInputError, ["constant"]),
    ("its-constant-pw", _fit(y=np.full(24, 5.0), method="prais-winsten"), ITSInputError, ["constant"]),
    (
        "its-zero-poisson",
        _fit(y=np.zeros(24), family="poisson"),
        ITSInputError,
        ["'y'", "0 in every one of the 24", "poisson"],
    ),
    (
        "its-zero-quasipoisson",
        _fit(y=np.zeros(24), family="quasipoisson"),
        ITSInputError,
        ["0 in every one", "quasipoisson"],
    ),
    ("its-zero-negbin", _fit(y=np.zeros(24), family="negbin"), ITSInputError, ["0 in every one", "negbin"]),
    (
        "its-negative-count",
        _fit(y=np.r_[-1.0, np.arange(23.0)], family="poisson"),
        ITSInputError,
        ["non-negative", "row 0"],
    ),
    ("its-text-outcome", _fit(y=["a"] * 24), ITSInputError, ["'y'", "not numeric", "rows 0"]),
    (
        "its-duplicate-period",
        lambda: fit_its(
            pd.concat([_its(), _its().iloc[:1]]), outcome="y", time="month", interruptions="2023-01-01"
        ),
        ITSInputError,
        ["duplicated periods", "'month'", "rows 0, 24"],
    ),
    ("its-lags-equal-n", _fit(se_type="newey-west", lags=24), ITSInputError, ["lags=24", "24"]),
    ("its-lags-above-n", _fit(se_type="newey-west", lags=100), ITSInputError, ["lags=100", "fitted periods"]),
    ("its-lags-negative", _fit(se_type="newey-west", lags=-1), ITSInputError, ["lags", "-1"]),
    ("its-lags-without-nw", _fit(lags=2), ITSInputError, ["lags=", "newey-west"]),
    ("its-nw-without-lags", _fit(se_type="newey-west"), ITSInputError, ["lags="]),
    (
        "its-two-points-after",
        _fit(interruptions="2023-11-01"),
        ITSInputError,
        ["too few points after interruption 2023-11-01", "2"],
    ),
    ("its-one-point-after", _fit(interruptions="2023-12-01"), ITSInputError, ["too few points", "1"]),
    ("its-two-points-before", _fit(interruptions="2022-03-01"), ITSInputError, ["too few points before"]),
    (
        "its-interruption-outside",
        _fit(interruptions="2030-01-01"),
        ITSInputError,
        ["'2030-01-01'", "outside"],
    ),
    (
        "its-interruption-not-date",
        _fit(interruptions="notadate"),
        ITSInputError,
        ["'notadate'", "not a date"],
    ),
    ("its-unknown-family", _fit(family="binomial"), ITSInputError, ["binomial"]),
    ("its-unknown-method", _fit(method="magic"), ITSInputError, ["magic"]),
    # ITS: compare_methods
    (
        "compare-constant",
        lambda: compare_methods(
            _its(y=np.full(24, 5.0)), outcome="y", time="month", interruptions="2023-01-01"
        ),
        ITSInputError,
        ["every method failed", "constant"],
    ),
    (
        "compare-zero-counts",
        lambda: compare_methods(
            _its(y=np.zeros(24)), outcome="y", time="month", interruptions="2023-01-01", family="poisson"
        ),
        ITSInputError,
        ["0 in every one"],
    ),
    (
        "compare-unknown-method",
        lambda: compare_methods(
            _its(), methods=["nonsense"], outcome="y", time="month", interruptions="2023-01-01"
        ),
        ITSInputError,
        ["'nonsense'", "not a method"],
    ),
    (
        "compare-no-methods",
        lambda: compare_methods(_its(), methods=[], outcome="y", time="month", interruptions="2023-01-01"),
        ITSInputError,
        ["at least one method"],
    ),
    # ITS: power
    ("power-negative-n", lambda: power(n_pre=-1, n_post=10, sd=1), ITSInputError, ["n_pre"]),
    ("power-zero-n", lambda: power(n_pre=0, n_post=0, sd=1), ITSInputError, ["n_pre"]),
    ("power-text-n", lambda: power(n_pre="a", n_post=12, sd=1, n_sims=20), ITSInputError, ["n_pre"]),
    (
        "power-nan-sd",
        lambda: power(n_pre=12, n_post=12, sd=float("nan"), n_sims=20),
        ITSInputError,
        ["sd", "finite"],
    ),
    (
        "power-1e300-sd",
        lambda: power(n_pre=12, n_post=12, sd=1e300, n_sims=20),
        ITSInputError,
        ["sd", "1e15"],
    ),
    (
        "power-lags-too-many",
        lambda: power(n_pre=12, n_post=12, sd=1, se_type="newey-west", lags=50, n_sims=20),
        ITSInputError,
        ["lags", "24"],
    ),
    ("power-zero-sims", lambda: power(n_pre=12, n_post=12, sd=1, n_sims=0), ITSInputError, ["n_sims"]),
    (
        "power-ar-one",
        lambda: power(n_pre=12, n_post=12, sd=1, ar=1.0, n_sims=20),
        ITSInputError,
        ["ar", "between -1 and 1"],
    ),
    (
        "power-conf-level",
        lambda: power(n_pre=12, n_post=12, sd=1, conf_level=1.5, n_sims=20),
        ITSInputError,
        ["conf_level"],
    ),
    (
        "power-zero-baseline",
        lambda: power(n_pre=12, n_post=12, family="poisson", baseline=0, n_sims=20),
        ITSInputError,
        ["baseline", "positive"],
    ),
    (
        "power-huge-baseline",
        lambda: power(n_pre=12, n_post=12, family="poisson", baseline=1e300, n_sims=20),
        ITSInputError,
        ["baseline"],
    ),
    # outcome measures: score, reliable_change, definitions
    ("score-not-frame", lambda: score([1, 2], "phq9"), RomInputError, ["DataFrame", "list"]),
    (
        "score-empty-frame",
        lambda: score(pd.DataFrame(), "phq9"),
        RomInputError,
        ["phq9_1", "not in the data"],
    ),
    (
        "score-unknown-instrument",
        lambda: score(_phq(), "nope"),
        InstrumentDefinitionError,
        ["'nope'", "phq9"],
    ),
    ("score-1e300", lambda: score(_phq(1e300), "phq9"), RomInputError, ["phq9_1", "row"]),
    ("score-inf", lambda: score(_phq(np.inf), "phq9"), RomInputError, ["phq9_1"]),
    (
        "reverse-score-out-of-range",
        lambda: reverse_score(_phq(7), "phq9"),
        RomInputError,
        ["phq9_1", "check_responses()"],
    ),
    (
        "score-out-of-range-advice",
        lambda: score(_phq(7), "phq9"),
        RomInputError,
        ["phq9_1", "invalid='missing'"],
    ),
    ("score-text", lambda: score(_phq("x"), "phq9"), RomInputError, ["phq9_1", "'x'"]),
    ("score-prorate-word", lambda: score(_phq(), "phq9", prorate="x"), RomInputError, ["prorate", "'x'"]),
    (
        "score-prorate-1-of-9",
        lambda: score(_phq(), "phq9", prorate=8),
        RomInputError,
        ["phq9", "'total'", "prorate=8", "1 answered item", "at most 4"],
    ),
    (
        "score-prorate-fraction",
        lambda: score(_phq(), "phq9", prorate=0.9),
        RomInputError,
        ["prorate=0.9", "8 of its 9", "at least half"],
    ),
    ("score-prorate-negative", lambda: score(_phq(), "phq9", prorate=-1), RomInputError, ["negative"]),
    (
        "score-invalid-option",
        lambda: score(_phq(), "phq9", on_invalid="x"),
        RomInputError,
        ["invalid", "'x'"],
    ),
    (
        "score-repeated-item",
        lambda: score(
            pd.DataFrame([[1] * 10], columns=[*(f"phq9_{i}" for i in range(1, 10)), "phq9_1"]), "phq9"
        ),
        RomInputError,
        ["phq9_1", "more than once"],
    ),
    ("check-prorate-core10", lambda: check_prorate("core10", 6), RomInputError, ["core10", "6 of its 10"]),
    (
        "rc-pre-equals-post",
        lambda: reliable_change(pd.DataFrame({"a": [1.0, 2.0]}), "phq9", pre_column="a", post_column="a"),
        RomInputError,
        ["same column", "'a'"],
    ),
    (
        "rc-missing-post",
        lambda: reliable_change(pd.DataFrame({"a": [1.0, 2.0]}), "phq9", pre_column="a", post_column="b"),
        RomInputError,
        ["post", "'b'"],
    ),
    (
        "rc-1e300",
        lambda: reliable_change(
            pd.DataFrame({"a": [1e300, 2.0], "b": [1.0, 2.0]}), "phq9", pre_column="a", post_column="b"
        ),
        RomInputError,
        ["'a'"],
    ),
    (
        "rc-inf",
        lambda: reliable_change(
            pd.DataFrame({"a": [np.inf, 2.0], "b": [1.0, 2.0]}), "phq9", pre_column="a", post_column="b"
        ),
        RomInputError,
        ["'a'"],
    ),
    (
        "rc-text",
        lambda: reliable_change(
            pd.DataFrame({"a": ["x", "y"], "b": [1.0, 2.0]}), "phq9", pre_column="a", post_column="b"
        ),
        RomInputError,
        ["'a'"],
    ),
    (
        "rc-not-frame",
        lambda: reliable_change([1, 2], "phq9", pre_column="a", post_column="b"),
        RomInputError,
        ["DataFrame"],
    ),
    (
        "definition-missing-file",
        lambda tmp: load_definition(tmp / "none.yaml"),
        InstrumentDefinitionError,
        ["none.yaml", "does not exist"],
    ),
    (
        "definition-yaml-bomb",
        lambda tmp: load_definition(_write(tmp, "bomb.yaml", BOMB)),
        InstrumentDefinitionError,
        ["bomb.yaml", "aliases"],
    ),
    (
        "change-summary-not-frame",
        lambda: change_summary([1]),
        RomInputError,
        ["changes", "DataFrame", "list"],
    ),
    (
        "data-quality-not-frame",
        lambda: data_quality([1]),
        RomInputError,
        ["scored", "DataFrame"],
    ),
    (
        "talking-therapies-summary-not-frame",
        lambda: talking_therapies_summary([1]),
        RomInputError,
        ["outcomes", "DataFrame"],
    ),
    # before/after
    (
        "paired-mixed-subject-types",
        lambda: paired_change(
            _pp([1.0, 2.0, 3.0, 4.0]).astype({"s": object}).assign(s=["x", "x", 2, 2]),
            **_PC,
            pre="a",
            post="b",
        ),
        PrePostInputError,
        ["subject column 's'", "int", "str"],
    ),
    (
        "rtm-statement-wrong-table",
        lambda: rtm_statement(pd.DataFrame(), outcome="x"),
        PrePostInputError,
        ["lacks columns", "outcome", "mirror_change()"],
    ),
    (
        "effect-size-intervals-not-numbers",
        lambda: effect_size_intervals(pd.DataFrame(), 1.0, 1.0, 1.0, 0.5, 10, 0.95),
        PrePostInputError,
        ["mean_change"],
    ),
    (
        "paired-pre-equals-post",
        lambda: paired_change(_pp([1.0, 2.0, 3.0, 4.0]), **_PC, pre="a", post="a"),
        PrePostInputError,
        ["pre", "post"],
    ),
    (
        "paired-empty",
        lambda: paired_change(pd.DataFrame({"s": [], "t": [], "v": []}), **_PC, pre="a", post="b"),
        PrePostInputError,
        [],
    ),
    (
        "paired-missing-column",
        lambda: paired_change(pd.DataFrame({"s": [1]}), **_PC, pre="a", post="b"),
        PrePostInputError,
        ["'t'"],
    ),
    (
        "paired-1e300",
        lambda: paired_change(_pp([1e300, 2.0, 3.0, 4.0, 5.0, 7.0]), **_PC, pre="a", post="b"),
        PrePostInputError,
        ["'v'", "1e15", "row(s) 0"],
    ),
    (
        "paired-inf",
        lambda: paired_change(_pp([np.inf, 2.0, 3.0, 4.0, 5.0, 7.0]), **_PC, pre="a", post="b"),
        PrePostInputError,
        ["'v'", "infinite", "row(s) 0"],
    ),
    (
        "paired-not-frame",
        lambda: paired_change("x", **_PC, pre="a", post="b"),
        PrePostInputError,
        ["DataFrame"],
    ),
    (
        "analysed-pre-equals-post",
        lambda: analysed_n(_pp([1.0, 2.0]), **_PC, pre="a", post="a"),
        PrePostInputError,
        ["pre", "post"],
    ),
    ("mirror-empty", lambda: mirror_change(pd.DataFrame()), PrePostInputError, []),
    ("mirror-not-frame", lambda: mirror_change([1]), PrePostInputError, ["DataFrame"]),
    (
        "compare-without-design",
        lambda: compare_methods(_its()),
        ITSInputError,
        ["outcome=", "time=", "interruptions="],
    ),
    # series builders
    ("count-missing-column", lambda: count_events(_EV, date="x"), SeriesInputError, ["'x'"]),
    (
        "count-bad-date",
        lambda: count_events(pd.DataFrame({"d": ["notadate"]}), date="d"),
        SeriesInputError,
        ["'d'"],
    ),
    ("count-not-frame", lambda: count_events(5, date="d"), SeriesInputError, ["DataFrame", "int"]),
    ("count-bad-freq", lambda: count_events(_EV, date="d", freq="X"), SeriesInputError, ["'X'", "MS"]),
    (
        "count-window-reversed",
        lambda: count_events(_EV, date="d", start="2025-01-01", end="2024-01-01"),
        SeriesInputError,
        ["2024-01-01", "2025-01-01", "after start"],
    ),
    (
        "count-bad-start",
        lambda: count_events(_EV, date="d", start="bad", end="2024-06-01"),
        SeriesInputError,
        ["start", "'bad'", "not a date"],
    ),
    (
        "count-start-with-time",
        lambda: count_events(_EV, date="d", start="2024-01-01 10:00", end="2024-06-01"),
        SeriesInputError,
        ["start=", "time of day"],
    ),
    ("count-bad-by", lambda: count_events(_EV, date="d", by=5), SeriesInputError, ["by"]),
    (
        "count-repeated-by",
        lambda: count_events(_EV.assign(s="A"), date="d", by=["s", "s"]),
        SeriesInputError,
        ["repeated"],
    ),
    (
        "count-corrupt-parquet",
        lambda tmp: count_events(_bytes(tmp / "events.parquet", b"not a parquet file"), date="d"),
        SeriesInputError,
        ["events file events.parquet cannot be read as Parquet"],
    ),
    (
        "count-missing-file",
        lambda tmp: count_events(tmp / "none.csv", date="d"),
        MissingInputError,
        ["none.csv", "not found"],
    ),
    (
        "beddays-missing-column",
        lambda: bed_days(pd.DataFrame({"a": ["2024-01-01"]}), admitted="a", discharged="b"),
        SeriesInputError,
        ["'b'"],
    ),
    (
        "rates-missing-count",
        lambda: rates(
            pd.DataFrame({"period": ["2024-01-01"], "site": ["A"]}),
            pd.DataFrame({"period": ["2024-01-01"], "site": ["A"], "population": [5]}),
        ),
        SeriesInputError,
        ["count"],
    ),
    (
        "rates-bad-per",
        lambda: rates(
            pd.DataFrame({"period": ["2024-01-01"], "site": ["A"], "count": [1]}),
            pd.DataFrame({"period": ["2024-01-01"], "site": ["A"], "population": [5]}),
            per=0,
        ),
        SeriesInputError,
        ["per", "positive"],
    ),
    # loading and validating extracts
    (
        "clean-not-frame",
        lambda: clean_extract([1], "spells"),
        ExtractValidationError,
        ["DataFrame", "list"],
    ),
    (
        "clean-bad-on-invalid",
        lambda: clean_extract(pd.DataFrame({"a": [1]}), "spells", on_invalid="skip"),
        ExtractValidationError,
        ["on_invalid", "'skip'"],
    ),
    (
        "clean-bad-window",
        lambda: clean_extract(pd.DataFrame({"a": [1]}), "spells", window=("2024-01-01",)),
        ExtractValidationError,
        ["window", "pair"],
    ),
    (
        "clean-window-reversed",
        lambda: clean_extract(pd.DataFrame({"a": [1]}), "spells", window=("2025-01-01", "2024-01-01")),
        ExtractValidationError,
        ["window start 2025-01-01", "2024-01-01"],
    ),
    (
        "clean-empty-sites",
        lambda: clean_extract(pd.DataFrame({"a": [1]}), "spells", sites=[]),
        ExtractValidationError,
        ["sites is empty"],
    ),
    (
        "find-two-files-one-kind",
        lambda tmp: (
            _write(tmp, "spells.csv", "a\n"),
            _write(tmp, "Spells.xlsx", ""),
            find_extract_files(tmp),
        ),
        ExtractValidationError,
        ["several spells files", "spells.csv", "Spells.xlsx"],
    ),
    (
        "mapping-unknown-kind",
        lambda tmp: (
            _write(tmp, "spells.csv", "a\n"),
            load_extracts(tmp, mappings={"nonsense": {}}),
        ),
        ColumnMappingError,
        ["nonsense", "spells"],
    ),
    (
        "mapping-yaml-bomb",
        lambda tmp: load_mapping(_write(tmp, "map.yaml", BOMB)),
        ColumnMappingError,
        ["map.yaml", "aliases"],
    ),
    (
        "schema-kind-not-text",
        lambda: get_schema(pd.DataFrame()),
        ExtractValidationError,
        ["unknown extract kind of type DataFrame", "spells"],
    ),
    (
        "read-extract-unknown-kind",
        lambda: read_extract(pd.DataFrame({"a": [1]}), "admissions"),
        ExtractValidationError,
        ["'admissions'", "spells"],
    ),
    # protocols
    ("protocol-folder", lambda tmp: load_protocol(tmp), ProtocolError, ["is a folder"]),
    ("protocol-not-a-path", lambda: load_protocol(5), ProtocolError, ["int"]),
    (
        "protocol-source-escapes-folder",
        lambda tmp: load_protocol(_protocol_with_source(tmp, "../../etc/passwd")),
        ProtocolError,
        ["data.sources.rom_responses.file", "'../../etc/passwd'", "allow_outside_folder"],
    ),
    (
        "protocol-absolute-source-outside-folder",
        lambda tmp: load_protocol(_protocol_with_source(tmp, str(DATA / "rom_responses.csv"))),
        ProtocolError,
        [
            "data.sources.rom_responses.file",
            "rom_responses.csv",
            "lies outside data.folder",
            "allow_outside_folder",
        ],
    ),
    (
        "protocol-absolute-folder-outside",
        lambda tmp: load_protocol(_protocol_with_source(tmp, "rom_responses.csv", folder=str(DATA))),
        ProtocolError,
        [
            "data.folder",
            "synthetic_data",
            "lies outside the protocol's folder",
            "data.allow_outside_folder: true",
        ],
    ),
    (
        "protocol-lags-beyond-window",
        lambda tmp: load_protocol(_protocol_with_lags(tmp, 24)),
        ProtocolError,
        ["analysis.primary.lags", "must be smaller than the number of periods in the window (24)", "got 24"],
    ),
    (
        "protocol-check-not-a-protocol",
        lambda: check_protocol([1]),
        ProtocolError,
        ["check_protocol", "list"],
    ),
    (
        "protocol-from-text",
        lambda: protocol_from_dict("x"),
        ProtocolError,
        ["mapping of sections", "str"],
    ),
    (
        "protocol-from-empty-dict",
        lambda: protocol_from_dict({}),
        ProtocolError,
        ["name: is required", "sites: is required"],
    ),
    (
        "protocol-not-yaml",
        lambda tmp: load_protocol(_write(tmp, "p.yaml", "a: [1, 2\n")),
        ProtocolError,
        ["p.yaml", "not valid YAML", "line"],
    ),
    (
        "protocol-text",
        lambda tmp: load_protocol(_write(tmp, "p.yaml", "just words\n")),
        ProtocolError,
        ["mapping of sections"],
    ),
    (
        "protocol-duplicate-key",
        lambda tmp: load_protocol(_write(tmp, "p.yaml", "name: a\nname: b\n")),
        ProtocolError,
        ["duplicate key 'name'", "line 1"],
    ),
    (
        "protocol-latin1",
        lambda tmp: load_protocol(_bytes(tmp / "p.yaml", "title: caf\xe9\n".encode("latin-1"))),
        ProtocolError,
        ["p.yaml", "UTF-8"],
    ),
    (
        "protocol-yaml-bomb",
        lambda tmp: load_protocol(_write(tmp, "bomb.yaml", BOMB)),
        ProtocolError,
        ["bomb.yaml", "billion laughs"],
    ),
    (
        "protocol-recursive-alias",
        lambda tmp: load_protocol(_write(tmp, "r.yaml", "a: &x [1, *x]\n")),
        ProtocolError,
        ["r.yaml", "recursive"],
    ),
    (
        "protocol-prorate-1-of-9",
        lambda tmp: load_protocol(_protocol_with_prorate(tmp, 8)),
        ProtocolError,
        ["outcome_measures.instruments[0].prorate", "prorate: rule", "at most 4"],
    ),
]


def _bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _protocol_with_source(tmp: Path, file: str, folder: str = "data") -> Path:
    raw = yaml.safe_load((PROTOCOLS / "change_programme.yaml").read_text(encoding="utf-8"))
    (tmp / "data").mkdir(exist_ok=True)
    raw["data"]["folder"] = folder
    raw["data"]["allow_outside_folder"] = False  # the bundled protocols allow ../synthetic_data
    raw["data"]["sources"]["rom_responses"]["file"] = file
    path = tmp / "p.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def _protocol_with_lags(tmp: Path, lags: int) -> Path:
    raw = yaml.safe_load((PROTOCOLS / "project_air.yaml").read_text(encoding="utf-8"))
    raw["data"]["folder"] = str(DATA)
    raw["data"]["window"] = {"start": "2021-01-01", "extract_date": "2023-01-01"}  # 24 months
    raw["series"] = [s for s in raw["series"] if s.get("frequency", "MS") == "MS"]
    raw["analysis"]["primary"].update({"se_type": "newey-west", "lags": lags})
    path = tmp / "p.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False, default_flow_style=False), encoding="utf-8")
    return path


def _protocol_with_prorate(tmp: Path, prorate: object) -> Path:
    raw = yaml.safe_load((PROTOCOLS / "change_programme.yaml").read_text(encoding="utf-8"))
    raw["data"]["folder"] = str(DATA)
    instruments = raw["outcome_measures"]["instruments"]
    instruments[0] = {**instruments[0], "key": "phq9", "scale": "total", "prorate": prorate}
    path = tmp / "p.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(("call", "cls", "words"), [c[1:] for c in API_CASES], ids=[c[0] for c in API_CASES])
def test_api_raises_a_toolkit_error_that_locates_the_fault(call, cls, words, tmp_path):
    with pytest.raises(EvalToolkitError) as info:  # a dependency's exception is not caught: the test fails
        call(tmp_path) if call.__code__.co_argcount else call()
    assert isinstance(info.value, cls), (type(info.value), str(info.value))
    assert type(info.value).__module__.startswith("evaltoolkit"), type(info.value)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_api_case_count():
    assert len(API_CASES) >= 70


# -- command-line cases -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small copies of the synthetic extracts, and folders that are broken in one way each."""
    base = tmp_path_factory.mktemp("bad")
    spells = pd.read_csv(DATA / "spells.csv", nrows=60)
    sites = DATA / "sites.csv"
    out: dict[str, Path] = {}

    def folder(name: str) -> Path:
        path = base / name
        path.mkdir()
        out[name] = path
        return path

    good = folder("good")
    spells.to_csv(good / "spells.csv", index=False)
    shutil.copy(sites, good / "sites.csv")
    upper = folder("upper")
    spells.to_csv(upper / "Spells.CSV", index=False)
    shutil.copy(sites, upper / "SITES.csv")
    (folder("empty_dir") / ".keep").write_text("")
    (folder("unknown_names") / "admissions_2024.csv").write_text("a,b\n1,2\n")
    header = folder("header_only")
    spells.iloc[:0].to_csv(header / "spells.csv", index=False)
    shutil.copy(sites, header / "sites.csv")
    no_sites = folder("no_sites")
    spells.to_csv(no_sites / "spells.csv", index=False)
    (no_sites / "sites.csv").write_text("site,site_name\n")
    latin = folder("latin1")
    (latin / "spells.csv").write_bytes(
        "spell_id,patient_id,site,admitted,discharged\nS1,P1,RA1,2024-01-02,2024-01-05\nS2,Zoë,RA1,2024-01-03,\n".encode(
            "latin-1"
        )
    )
    excluded = folder("all_excluded")
    spells.to_csv(excluded / "spells.csv", index=False)
    (excluded / "sites.csv").write_text("site,site_name\nZZZ,Nowhere\n")
    bad_dates = folder("bad_dates")
    broken = spells.astype({"admitted": "object"})
    broken.loc[[2, 5], "admitted"] = "not a date"
    broken.to_csv(bad_dates / "spells.csv", index=False)
    shutil.copy(sites, bad_dates / "sites.csv")
    rom = pd.read_csv(DATA / "rom_responses.csv", nrows=20)
    out["rom"] = base / "rom.csv"
    rom.to_csv(out["rom"], index=False)
    out["rom_q"] = base / "rom_q.csv"
    rom.rename(columns={f"phq9_{i}": f"Q{i}" for i in range(1, 10)}).to_csv(out["rom_q"], index=False)
    out["rom_bad"] = base / "rom_bad.csv"
    rom.assign(phq9_1=[7] + [1] * 19).to_csv(out["rom_bad"], index=False)
    out["bomb"] = base / "bomb.yaml"
    out["bomb"].write_text(BOMB, encoding="utf-8")
    out["notes"] = base / "notes.txt"
    out["notes"].write_text("hello\n")
    out["prorate8"] = _protocol_with_prorate(folder("proto"), 8)
    empty_rom = folder("empty_rom")
    rom.iloc[:0].to_csv(empty_rom / "rom_responses.csv", index=False)
    raw = yaml.safe_load((PROTOCOLS / "change_programme.yaml").read_text(encoding="utf-8"))
    raw["data"]["folder"] = str(empty_rom)
    out["empty_rom_protocol"] = base / "empty_rom.yaml"
    out["empty_rom_protocol"].write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    bad_rom = folder("bad_rom")
    rom.astype({"date": object}).assign(date=["31/31/2024", "nope", *rom["date"].iloc[2:]]).to_csv(
        bad_rom / "rom_responses.csv", index=False
    )
    raw["data"]["folder"] = str(bad_rom)
    out["bad_rom_protocol"] = base / "bad_rom.yaml"
    out["bad_rom_protocol"].write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    no_pop = folder("pop_missing_site")
    spells.to_csv(no_pop / "spells.csv", index=False)
    shutil.copy(sites, no_pop / "sites.csv")
    pop = pd.read_csv(DATA / "population.csv")
    pop[pop["site"] != "RD4"].to_csv(no_pop / "population.csv", index=False)
    raw = yaml.safe_load((PROTOCOLS / "change_programme.yaml").read_text(encoding="utf-8"))
    raw["data"]["folder"] = str(DATA)
    raw["data"]["allow_outside_folder"] = True
    raw["outcome_measures"]["pre"] = "Week 0"
    out["occasion_protocol"] = base / "occasion.yaml"
    out["occasion_protocol"].write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    raw = yaml.safe_load((PROTOCOLS / "project_air.yaml").read_text(encoding="utf-8"))
    raw["data"]["folder"] = str(DATA)
    raw["sites"].append({"code": "RX999", "name": "Nowhere", "role": "control"})
    out["site_nodata_protocol"] = base / "site_nodata.yaml"
    out["site_nodata_protocol"].write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    (folder("results_not_json") / "results.json").write_text("{not json", encoding="utf-8")
    estimate = dict.fromkeys(ESTIMATE_KEYS) | {"id": "e1", "analysis": "its", "estimate": "abc"}
    (folder("results_wrong_type") / "results.json").write_text(
        json.dumps({"schema_version": "2.0", "estimates": [estimate]}), encoding="utf-8"
    )
    return out


def _run(*args: object):
    return runner.invoke(app, [str(a) for a in args])


# (id, arguments (names in {} are fixtures of `small`; {tmp} is a fresh folder), exit code, words)
CLI_CASES: list[tuple[str, list[str], int, list[str]]] = [
    # validate a folder
    (
        "validate-no-recognised-file",
        ["validate", "{unknown_names}"],
        EXIT_INVALID,
        ["no extract file", "admissions_2024.csv", "attendances", "spells", "any letter case", ".csv"],
    ),
    ("validate-empty-folder", ["validate", "{empty_dir}"], EXIT_INVALID, ["no extract file", "no files"]),
    (
        "validate-empty-extract",
        ["validate", "{header_only}"],
        EXIT_INVALID,
        ["spells (spells.csv)", "empty", "no data rows"],
    ),
    (
        "validate-every-row-excluded",
        ["validate", "{all_excluded}"],
        EXIT_INVALID,
        ["spells (spells.csv)", "every one of its 60 rows is excluded", "unknown_site", "column site"],
    ),
    (
        "validate-bad-dates-advice",
        ["validate", "{bad_dates}"],
        EXIT_INVALID,
        ["spells (spells.csv)", "unparseable", "admitted", "2 4, 7"],
    ),
    (
        "validate-start-dd-mm",
        ["validate", "{good}", "--start", "31/12/2023", "--extract-date", "2024-06-01"],
        EXIT_USAGE,
        ["--start", "31/12/2023", "YYYY-MM-DD"],
    ),
    (
        "validate-start-month-13",
        ["validate", "{good}", "--start", "2024-13-01", "--extract-date", "2025-01-01"],
        EXIT_USAGE,
        ["--start", "2024-13-01"],
    ),
    (
        "validate-extract-date-word",
        ["validate", "{good}", "--start", "2024-01-01", "--extract-date", "soon"],
        EXIT_USAGE,
        ["--extract-date", "soon"],
    ),
    (
        "validate-start-alone",
        ["validate", "{good}", "--start", "2024-01-01"],
        EXIT_USAGE,
        ["--start needs --extract-date"],
    ),
    (
        "validate-window-reversed",
        ["validate", "{good}", "--start", "2024-06-01", "--extract-date", "2024-01-01"],
        EXIT_USAGE,
        ["--start 2024-06-01 must be before --extract-date 2024-01-01"],
    ),
    ("validate-missing-folder", ["validate", "{tmp}/nope"], EXIT_USAGE, ["nope", "not a folder"]),
    ("validate-file-not-folder", ["validate", "{notes}"], EXIT_USAGE, ["notes.txt", "not a folder"]),
    (
        "validate-latin1-file",
        ["validate", "{latin1}"],
        EXIT_INVALID,
        ["spells (spells.csv)", "UTF-8"],
    ),
    (
        "validate-empty-sites-file",
        ["validate", "{no_sites}"],
        EXIT_INVALID,
        ["sites.csv", "empty", "no data rows"],
    ),
    # validate a protocol
    ("validate-yaml-bomb", ["validate", "{bomb}"], EXIT_INVALID, ["bomb.yaml", "billion laughs"]),
    (
        "validate-protocol-missing",
        ["validate", "{tmp}/nope.yaml"],
        EXIT_USAGE,
        ["nope.yaml", "does not exist"],
    ),
    ("validate-protocol-folder", ["validate", "--protocol", "{empty_dir}"], EXIT_INVALID, ["is a folder"]),
    (
        "validate-protocol-prorate",
        ["validate", "{prorate8}", "--no-data"],
        EXIT_INVALID,
        ["outcome_measures.instruments[0].prorate", "prorate: rule"],
    ),
    (
        "validate-protocol-empty-extract",
        ["validate", "{empty_rom_protocol}"],
        EXIT_INVALID,
        ["rom_responses.csv", "empty", "no data rows"],
    ),
    (
        "validate-protocol-bad-dates-advice",
        ["validate", "{bad_rom_protocol}"],
        EXIT_INVALID,
        [
            "rom_responses extract",
            "'date'",
            "rows 2, 3",
            "'31/31/2024'",
            "data.sources.rom_responses.columns",
        ],
    ),
    (
        "run-protocol-bad-dates-advice",
        ["run", "{bad_rom_protocol}", "--out", "{tmp}/o", "-q"],
        EXIT_INVALID,
        ["'date'", "rows 2, 3", "data.sources.rom_responses.columns"],
    ),
    (
        "run-protocol-empty-extract",
        ["run", "{empty_rom_protocol}", "--out", "{tmp}/o", "-q"],
        EXIT_INVALID,
        ["rom_responses.csv", "empty"],
    ),
    # series
    (
        "series-out-is-data-folder",
        ["series", "{good}", "--out", "{good}"],
        EXIT_USAGE,
        ["--out", "input folder", "Give another folder"],
    ),
    ("series-out-is-a-file", ["series", "{good}", "--out", "{notes}"], EXIT_USAGE, ["--out", "is a file"]),
    (
        "series-bad-freq",
        ["series", "{good}", "--out", "{tmp}/o", "--freq", "X"],
        EXIT_USAGE,
        ["--freq", "'X'"],
    ),
    (
        "series-bad-start",
        ["series", "{good}", "--out", "{tmp}/o", "--start", "bad", "--extract-date", "2024-01-01"],
        EXIT_USAGE,
        ["--start", "'bad'"],
    ),
    (
        "series-no-extracts",
        ["series", "{empty_dir}", "--out", "{tmp}/o"],
        EXIT_INVALID,
        ["empty_dir", "attendances", "spells", "population"],
    ),
    ("series-missing-folder", ["series", "{tmp}/nope", "--out", "{tmp}/o"], EXIT_USAGE, ["not a folder"]),
    # run
    (
        "run-out-is-data-folder",
        ["run", str(PROTOCOLS / "project_air.yaml"), "--out", str(DATA)],
        EXIT_USAGE,
        ["--out", "synthetic_data", "input folder"],
    ),
    (
        "run-out-is-a-file",
        ["run", str(PROTOCOLS / "project_air.yaml"), "--out", "{notes}"],
        EXIT_USAGE,
        ["--out", "notes.txt", "is a file"],
    ),
    ("run-protocol-is-text", ["run", "{notes}", "--out", "{tmp}/o"], EXIT_INVALID, ["notes.txt", "mapping"]),
    ("run-yaml-bomb", ["run", "{bomb}", "--out", "{tmp}/o"], EXIT_INVALID, ["billion laughs"]),
    ("run-missing-protocol", ["run", "{tmp}/nope.yaml", "--out", "{tmp}/o"], EXIT_USAGE, ["does not exist"]),
    # score
    (
        "score-out-is-input",
        ["score", "{rom}", "-i", "phq9", "--out", "{rom}"],
        EXIT_USAGE,
        ["--out", "rom.csv", "input file", "never overwritten"],
    ),
    (
        "score-out-is-folder",
        ["score", "{rom}", "-i", "phq9", "--out", "{empty_dir}"],
        EXIT_USAGE,
        ["--out", "is a folder"],
    ),
    (
        "score-prorate-huge",
        ["score", "{rom}", "-i", "phq9", "--out", "{tmp}/s.csv", "--prorate", "1e300"],
        EXIT_USAGE,
        ["--prorate", "'1e300'"],
    ),
    (
        "score-prorate-negative",
        ["score", "{rom}", "-i", "phq9", "--out", "{tmp}/s.csv", "--prorate", "-1"],
        EXIT_USAGE,
        ["--prorate", "'-1'"],
    ),
    (
        "score-prorate-1-of-9",
        ["score", "{rom}", "-i", "phq9", "--out", "{tmp}/s.csv", "--prorate", "8"],
        EXIT_USAGE,
        ["--prorate", "--prorate 8 allows 8 of its 9", "--prorate rule"],
    ),
    (
        "score-unknown-instrument",
        ["score", "{rom}", "-i", "phq99", "--out", "{tmp}/s.csv"],
        EXIT_USAGE,
        ["'phq99'", "phq9"],
    ),
    (
        "score-bad-invalid-option",
        ["score", "{rom}", "-i", "phq9", "--out", "{tmp}/s.csv", "--invalid", "skip"],
        EXIT_USAGE,
        ["--invalid"],
    ),
    (
        "score-item-names-advice",
        ["score", "{rom_q}", "-i", "phq9", "--out", "{tmp}/s.csv"],
        EXIT_INVALID,
        ["phq9_1", "rename the item columns"],
    ),
    (
        "score-out-of-range-advice",
        ["score", "{rom_bad}", "-i", "phq9", "--out", "{tmp}/s.csv"],
        EXIT_INVALID,
        ["phq9_1", "--invalid missing"],
    ),
    (
        "score-sheet-on-csv",
        ["score", "{rom}", "-i", "phq9", "--out", "{tmp}/s.csv", "--sheet", "A"],
        EXIT_INVALID,
        ["--sheet", "rom.csv"],
    ),
    (
        "score-missing-file",
        ["score", "{tmp}/nope.csv", "-i", "phq9", "--out", "{tmp}/s.csv"],
        EXIT_USAGE,
        ["nope.csv", "does not exist"],
    ),
    (
        "score-keep-columns-missing",
        ["score", "{rom}", "-i", "phq9", "--keep-columns", "patient_id,nhs_number", "--out", "{tmp}/s.csv"],
        EXIT_INVALID,
        ["--keep-columns nhs_number: is not a column of rom.csv", "its columns are patient_id"],
    ),
    # synth, report, book
    ("synth-out-is-a-file", ["synth", "--out", "{notes}"], EXIT_USAGE, ["--out", "is a file"]),
    (
        "synth-negative-seed",
        ["synth", "--out", "{tmp}/syn", "--seed", "-1"],
        EXIT_USAGE,
        ["--seed must be a whole number ≥ 0", "-1"],
    ),
    (
        "synth-out-holds-real-extracts",
        ["synth", "--out", "{good}"],
        EXIT_USAGE,
        ["--out", "sites.csv, spells.csv", "would overwrite", "no truth.json"],
    ),
    ("report-no-results", ["report", "{empty_dir}"], EXIT_USAGE, ["results.json"]),
    (
        "series-folder-and-protocol",
        ["series", "{good}", "--protocol", "{prorate8}", "--out", "{tmp}/o"],
        EXIT_USAGE,
        ["give a folder or --protocol, not both", "good"],
    ),
    (
        "validate-population-lacks-a-site",
        ["validate", "{pop_missing_site}"],
        EXIT_INVALID,
        ["population (population.csv): no rows for site RD4", "spells (spells.csv)", "no denominator"],
    ),
    (
        "validate-protocol-site-without-rows",
        ["validate", "{site_nodata_protocol}"],
        EXIT_INVALID,
        ["site RX999 (sites[4]) has no rows in attendances (attendances.csv) or spells (spells.csv)"],
    ),
    (
        "run-protocol-site-without-rows",
        ["run", "{site_nodata_protocol}", "--out", "{tmp}/o", "--quiet"],
        EXIT_INVALID,
        ["site RX999 (sites[4]) has no rows in attendances (attendances.csv)", "and so:", "population"],
    ),
    (
        "validate-protocol-pre-not-an-occasion",
        ["validate", "{occasion_protocol}"],
        EXIT_INVALID,
        [
            "outcome_measures.pre 'Week 0' is not a value of the occasion column 'occasion'",
            "rom_responses.csv",
            "'baseline'",
            "'end'",
        ],
    ),
    (
        "run-protocol-pre-not-an-occasion",
        ["run", "{occasion_protocol}", "--out", "{tmp}/o", "--quiet"],
        EXIT_INVALID,
        ["outcome_measures.pre 'Week 0' is not a value of the occasion column", "'baseline'"],
    ),
    ("report-missing-folder", ["report", "{tmp}/nope"], EXIT_USAGE, ["not a folder"]),
    (
        "report-results-not-json",
        ["report", "{results_not_json}"],
        EXIT_INVALID,
        ["results.json is not valid JSON (line 1, column 2)"],
    ),
    (
        "report-results-wrong-type",
        ["report", "{results_wrong_type}"],
        EXIT_INVALID,
        [
            "results.json does not follow the results schema",
            "results.estimates[0].estimate is 'abc'",
            "number",
        ],
    ),
    (
        "book-missing-folder",
        ["book", "--book-dir", "{tmp}/nope"],
        EXIT_USAGE,
        ["book folder", "does not exist"],
    ),
]


def _expand(args: list[str], small: dict[str, Path], tmp: Path) -> list[str]:
    def one(arg: str) -> str:
        return re.sub(r"\{(\w+)\}", lambda m: str(tmp if m.group(1) == "tmp" else small[m.group(1)]), arg)

    return [one(a) for a in args]


def _listing(folder: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize(("args", "code", "words"), [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_cli_fails_with_one_message_and_the_documented_code(args, code, words, small, tmp_path):
    watched = [DATA, *[p for p in small.values() if p.is_dir()]]
    before = {str(f): _listing(f) for f in watched}
    inputs = {p: p.read_bytes() for p in small.values() if p.is_file()}
    result = _run(*_expand(args, small, tmp_path))
    text = " ".join(result.output.split())
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    python_only_words = (
        "on_invalid=",
        "items=",
        "invalid='missing'",
        ".problems attribute",
        "prorate=",
        "clean_extract",
    )
    for python_only in python_only_words:
        assert python_only not in result.output, (python_only, result.output)
    for word in words:
        assert " ".join(word.split()) in text, (word, result.output)
    assert {str(f): _listing(f) for f in watched} == before  # nothing written next to the inputs
    assert all(p.read_bytes() == data for p, data in inputs.items())  # inputs never overwritten


def test_cli_case_count_and_total():
    assert len(CLI_CASES) >= 35
    assert len(API_CASES) + len(CLI_CASES) >= 100


def test_validate_finds_extract_files_in_any_letter_case(small):
    result = _run("validate", small["upper"])
    assert result.exit_code == 0, result.output
    assert "spells (Spells.CSV): ok" in result.output


def test_validate_an_ordinary_folder_still_passes(small):
    result = _run("validate", small["good"])
    assert result.exit_code == 0, result.output
    assert "spells (spells.csv): ok" in result.output


# -- every command, nonsense input ----------------------------------------------------------------
NONSENSE = {
    "synth": [["synth"], ["synth", "--out", "{notes}"], ["synth", "--out", "x", "--seed", "abc"]],
    "validate": [["validate", "{notes}"], ["validate", "{bomb}"], ["validate", "{tmp}/zz", "--start", "x"]],
    "series": [
        ["series", "{notes}", "--out", "{tmp}"],
        ["series", "{empty_dir}", "--out", "{tmp}/o"],
        ["series", "{good}", "--out", "{tmp}/o", "--freq", "fortnightly"],
    ],
    "run": [["run", "{notes}", "--out", "{tmp}/o"], ["run", "{bomb}", "--out", "{tmp}/o"], ["run"]],
    "score": [
        ["score", "{notes}", "-i", "phq9", "--out", "{tmp}/s.csv"],
        ["score", "{bomb}", "-i", "x", "--out", "{tmp}/s.csv"],
        ["score", "{rom}", "-i", "phq9", "--out", "{tmp}/s.csv", "--prorate", "lots"],
    ],
    "report": [["report", "{notes}"], ["report", "{empty_dir}", "--redraw"], ["report", "{tmp}/none"]],
    "book": [
        ["book", "--book-dir", "{notes}"],
        ["book", "--book-dir", "{empty_dir}", "--protocols", "{notes}"],
        ["book", "--nonsense"],
    ],
}


def test_every_command_is_walked_with_nonsense():
    assert set(NONSENSE) == {c.name or c.callback.__name__ for c in app.registered_commands}


@pytest.mark.parametrize("command", sorted(NONSENSE))
def test_no_traceback_from_any_command_with_nonsense(command, small, tmp_path):
    for args in NONSENSE[command]:
        result = _run(*_expand(args, small, tmp_path))
        assert result.exit_code in (EXIT_INVALID, EXIT_USAGE), (args, result.exit_code, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
        assert "Traceback" not in result.output, (args, result.output)
        assert "internal error" not in result.output, (args, result.output)
        assert result.output.strip(), args  # something readable was said


# -- unexpected errors: one line, a documented code, the traceback on request ------------------------
def test_an_unexpected_error_is_one_line_with_exit_3_and_debug_shows_the_traceback(
    small, tmp_path, monkeypatch
):
    import evaltoolkit.rom as rom

    def broken(*_a: object, **_k: object) -> None:
        raise ZeroDivisionError("simulated bug")

    monkeypatch.setattr(rom, "score", broken)
    args = ["score", str(small["rom"]), "-i", "phq9", "--out", str(tmp_path / "s.csv")]
    result = _run(*args)
    assert result.exit_code == EXIT_INTERNAL
    assert "internal error: builtins.ZeroDivisionError: simulated bug" in result.output
    assert "--debug" in result.output and "EVALTOOLKIT_DEBUG" in result.output
    assert "Traceback" not in result.output
    debug = _run("--debug", *args)
    assert isinstance(debug.exception, ZeroDivisionError)  # re-raised so Python prints the traceback
    monkeypatch.setenv("EVALTOOLKIT_DEBUG", "1")
    assert isinstance(_run(*args).exception, ZeroDivisionError)
    assert not (tmp_path / "s.csv").exists()


def test_help_documents_exit_code_3_and_debug():
    text = " ".join(_run("--help").output.split())
    assert "3 internal error" in text and "--debug" in text


# -- the YAML alias bomb is refused quickly (in a subprocess with a timeout, so a hang fails) ----------
def test_yaml_alias_bomb_is_refused_within_seconds(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB, encoding="utf-8")
    code = (
        "from evaltoolkit.protocol import load_protocol\n"
        "from evaltoolkit.errors import ProtocolError\n"
        f"try:\n    load_protocol({str(path)!r})\n"
        "except ProtocolError as exc:\n    print(type(exc).__name__, exc)\n"
    )
    # The loader refuses the aliases before expanding them; an expanding loader would not finish at all
    # (the timeout is a guard against a hang, not a speed measurement: speed lives in benchmarks/).
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ProtocolError protocol ")
    assert "billion laughs" in done.stdout and "bomb.yaml" in done.stdout
    assert validate_protocol(path)[0].path == "(file)"


# -- advice names something the user can do where they are ------------------------------------------
def test_cli_advice_rewrites_name_real_options():
    import typer

    group = typer.main.get_command(app)
    options = {opt for cmd in group.commands.values() for p in cmd.params for opt in p.opts}
    assert {"--invalid", "--prorate", "--sheet", "--start", "--extract-date"} <= options
    named = {o for _, repl in _CLI_ADVICE for o in re.findall(r"--[a-z-]+", repl)}
    assert named and named <= options, named
    # the protocol key named in the advice exists in the protocol schema
    from evaltoolkit.protocol.schema import DataSource, DataSpec

    assert "columns" in DataSource.model_fields and "sources" in DataSpec.model_fields


def test_python_advice_names_real_keywords():
    import inspect

    from evaltoolkit.data import clean_extract

    assert "on_invalid" in inspect.signature(clean_extract).parameters
    assert "items" in inspect.signature(score).parameters
    assert "on_invalid" in inspect.signature(score).parameters
    assert "prorate" in inspect.signature(score).parameters


@pytest.mark.parametrize(
    ("python", "cli", "gone"),
    [
        (
            "spells extract has 1 problem(s). Fix the source data or the column mapping, or pass "
            "on_invalid='exclude' to clean_extract to exclude the invalid rows and count them in the "
            "data-quality table. The full problem table is in the exception's .problems attribute.\n"
            "Fixable defects, handled by clean_extract: exact_duplicate (3).",
            "data.sources.spells.columns",
            ["on_invalid", ".problems", "clean_extract"],
        ),
        (
            "(expected phq9_1 … phq9_9; pass items= to map your column names)",
            "rename the item columns",
            ["items="],
        ),
        ("pass on_invalid='missing' to score them as missing", "--invalid missing", ["on_invalid='missing'"]),
        ("no dates to infer the window from; pass start= and end=", "--start and --extract-date", ["start="]),
        (
            "phq9, scale 'total': prorate=8 allows 8 of its 9 items. Use prorate='rule' or a number",
            "--prorate 8 allows",
            ["prorate=", "prorate='rule'"],
        ),
    ],
)
def test_cli_text_replaces_python_advice(python, cli, gone):
    text = _cli_text(python)
    assert cli in text
    for word in gone:
        assert word not in text


@pytest.mark.parametrize(
    "message",
    [
        "phq9: no published reliable-change value and no stored reliability; pass rc= or reliability= "
        "(and optionally sd=)",
        "x: no clinical cut-off and no norms for criterion a/b/c; pass cutoff=, norms= or criterion='none' "
        "(reliable change only)",
        "need at least two pre scores to use their SD; pass sd=",
    ],
)
def test_report_notes_drop_python_keyword_advice(message):
    from evaltoolkit.report._measures import strip_python_advice

    note = strip_python_advice(message)
    assert "pass" not in note and "=" not in note
    assert note == message.split(";")[0]


def test_real_process_prints_no_traceback(small, tmp_path):
    """The installed entry point, not only CliRunner: stderr holds one message and no traceback."""
    for args, code in [
        (["validate", str(small["unknown_names"])], EXIT_INVALID),
        (["series", str(small["good"]), "--out", str(small["good"])], EXIT_USAGE),
        (["validate", str(small["bomb"])], EXIT_INVALID),
    ]:
        done = subprocess.run(
            [sys.executable, "-m", "evaltoolkit", *args],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
            check=False,
        )
        assert done.returncode == code, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr + done.stdout, args
        assert (done.stderr + done.stdout).strip(), args


def test_folder_header_row_advice_names_a_real_option_that_works(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    att = pd.read_csv(DATA / "attendances.csv", dtype=str)
    (data / "attendances.csv").write_text(
        "ED attendances extract - run 2025-04-02\n" + att.to_csv(index=False)
    )
    pd.read_csv(DATA / "spells.csv", dtype=str).to_csv(data / "spells.csv", index=False)
    shutil.copy(DATA / "population.csv", data / "population.csv")
    advice = "pass --header-row attendances=2"
    for command in (["validate", data], ["series", data, "--out", tmp_path / "o1"]):
        result = _run(*command)
        assert result.exit_code == EXIT_INVALID, result.output
        text = " ".join(result.output.split())
        assert "attendances.csv: row 1 looks like a title" in text and advice in text
        assert "header_row=" not in text
    # following the advice skips the title row of attendances.csv only (spells.csv: header on row 1)
    assert _run("validate", data, "--header-row", "attendances=2").exit_code == 0
    result = _run("series", data, "--out", tmp_path / "o2", "--header-row", "attendances=2")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "o2" / "series.csv").exists()
    result = _run("validate", data, "--header-row", "zero")
    assert result.exit_code == EXIT_USAGE and "--header-row 'zero' must be a row number" in result.output


# -- re-run of the sweep: absurd numbers, date layouts in folder mode, files that are not what they say ------
def _sweep_folder(base: Path, name: str, *, population: str | None = None, n_att: int = 300) -> Path:
    """A small copy of the synthetic extracts (attendances, spells, population, sites), one of them edited."""
    path = base / name
    path.mkdir()
    pd.read_csv(DATA / "attendances.csv", nrows=n_att, dtype=str).to_csv(
        path / "attendances.csv", index=False
    )
    pd.read_csv(DATA / "spells.csv", nrows=60, dtype=str).to_csv(path / "spells.csv", index=False)
    shutil.copy(DATA / "sites.csv", path / "sites.csv")
    text = (DATA / "population.csv").read_text(encoding="utf-8")
    (path / "population.csv").write_text(population(text) if population else text, encoding="utf-8")
    return path


def _huge_population(text: str) -> str:
    lines = text.splitlines()
    site, period, _ = lines[1].split(",")
    lines[1] = f"{site},{period},1e300"  # spreadsheet row 2
    return "\n".join(lines) + "\n"


def _rewrite_dates(folder: Path, rows: slice | None = None, *, layout: str = "%d/%m/%Y %H:%M:%S") -> Path:
    """Write the attendances' arrival and departure in another layout (every row, or every ``rows``)."""
    path = folder / "attendances.csv"
    att = pd.read_csv(path, dtype=str)
    picked = att.index if rows is None else att.index[rows]
    for col in ("arrival", "departure"):
        values = pd.to_datetime(att.loc[picked, col])
        att.loc[picked, col] = values.dt.strftime(layout).where(values.notna())
    att.to_csv(path, index=False)
    return folder


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("sweep")
    return {
        "huge": _sweep_folder(base, "huge", population=_huge_population),
        "ddmm": _rewrite_dates(_sweep_folder(base, "ddmm")),
        "tz": _rewrite_dates(_sweep_folder(base, "tz"), layout="%Y-%m-%dT%H:%M:%S+01:00"),
        "mixed": _rewrite_dates(_sweep_folder(base, "mixed"), slice(49, None, 50)),  # rows 51, 101, ...
    }


OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)  # the start of a legacy .xls workbook


def _workbook_as_csv(tmp: Path) -> Path:
    path = tmp / "spells.csv"
    pd.DataFrame({"spell_id": ["S1"]}).to_excel(path, index=False, engine="openpyxl")
    return path


JOIN_CSV = (
    "attendance_id,patient_id,site,ArrDate,ArrTime,departure\n"
    "a1,p1,A,05/01/2023,10:00,2023-01-05 12:00\n"
    "a2,p2,A,2023-01-06,11:00,2023-01-06 12:00\n"  # spreadsheet row 3: ISO in a dd/mm column
    "a3,p3,A,07/01/2023,09:30,2023-01-07 12:00\n"
)


def _semicolon_file(tmp: Path) -> Path:
    path = tmp / "attendances.csv"
    path.write_text("attendance_id;site;arrival\na1;A;2023-01-01\n", encoding="utf-8")
    return path


SWEEP_API_CASES: list[tuple[str, Callable[..., object], type[EvalToolkitError], list[str]]] = [
    (
        "delimiter-given-wrong",
        lambda tmp: read_extract(_semicolon_file(tmp), "attendances", delimiter=","),
        ExtractValidationError,
        ["attendances.csv", "delimiter= ','", "header as one column", "';'-delimited"],
    ),
    (
        "population-1e300",
        lambda tmp: load_extracts(_sweep_folder(tmp, "huge", population=_huge_population, n_att=5)),
        ExtractValidationError,
        ["population.csv", "column 'population'", "rows 2", "'1e300' (row 2)", "larger than 10^12"],
    ),
    (
        "xlsx-saved-as-csv",
        lambda tmp: read_extract(_workbook_as_csv(tmp), "spells"),
        ExtractValidationError,
        ["spells.csv", "is an Excel workbook (.xlsx) saved with a .csv name", "rename it to spells.xlsx"],
    ),
    (
        "xls-saved-as-csv",
        lambda tmp: read_extract(_bytes(tmp / "spells.csv", OLE2), "spells"),
        ExtractValidationError,
        ["spells.csv", "Excel workbook (.xls) saved with a .csv name", "save it as .xlsx"],
    ),
    (
        "xls-saved-as-xlsx",
        lambda tmp: read_extract(_bytes(tmp / "spells.xlsx", OLE2), "spells"),
        ExtractValidationError,
        ["spells.xlsx", "legacy Excel 97-2003 workbook (.xls)", "save it as .xlsx"],
    ),
    (
        "header-row-given-above-the-header",
        lambda tmp: read_extract(
            _write(tmp, "spells.csv", "Spells extract 2024\n\nspell_id,site,admitted\nS1,A,2024-01-02\n"),
            "spells",
            header_row=1,
        ),
        ExtractValidationError,
        ["spells.csv", "row 1 names only 1 of 3 columns", "row 3 names every column", "pass header_row=3"],
    ),
    (
        "date-format-unknown-code",
        lambda: read_extract(
            pd.DataFrame({"site": ["A"], "period": ["2023-01-01"]}), "population", date_format="%Q"
        ),
        ExtractValidationError,
        ["date_format '%Q' is not a valid strftime layout", "%Q is not a date or time code", "'%d/%m/%Y'"],
    ),
    (
        "date-format-time-only",
        lambda: read_extract(pd.DataFrame({"site": ["A"]}), "population", date_format={"period": "%H:%M"}),
        ExtractValidationError,
        ["date_format for column 'period' '%H:%M'", "no day, month or year code"],
    ),
    (
        "date-format-unknown-code-protocol-key",
        lambda tmp: load_source(
            "spells",
            {"file": _write(tmp, "s.csv", "spell_id\nS1\n").name, "date_format": {"admitted": "%d/%m/%Q"}},
            tmp,
            advice="protocol:spells",
        ),
        ExtractValidationError,
        ["data.sources.spells.date_format for column 'admitted' '%d/%m/%Q'", "%Q is not a date or time code"],
    ),
    (
        "read-extract-missing-file",
        lambda tmp: (_write(tmp, "spells.csv", "spell_id\nS1\n"), read_extract(tmp / "spell.csv", "spells")),
        MissingInputError,
        ["extract file spell.csv does not exist in", "did you mean 'spells.csv'"],
    ),
    (
        "load-source-missing-file-protocol-key",
        lambda tmp: load_source("spells", {"file": "nope.csv"}, tmp, advice="protocol:spells"),
        MissingInputError,
        ["extract file nope.csv (data.sources.spells.file) does not exist"],
    ),
    (
        "load-source-unknown-kind",
        lambda tmp: load_source("admissions", {"file": "nope.csv"}, tmp),
        ExtractValidationError,
        ["unknown extract kind 'admissions'", "attendances", "spells"],
    ),
    (
        "count-events-offsets",
        lambda: count_events(
            pd.DataFrame({"d": ["2023-01-01T10:00:00+05:00", "2023-02-01T10:00:00+05:00"]}),
            date="d",
            start="2023-01-01",
            end="2023-03-01",
        ),
        SeriesInputError,
        [
            "column 'd' (date=) has date-times with a time-zone offset",
            "'2023-01-01T10:00:00+05:00'",
            "they are ISO 8601",
            "at row(s) 0, 1 (0-based row positions",
            "read_extract(..., timezone='Europe/London')",
        ],
    ),
    (
        "count-events-dd-mm-example",
        lambda: count_events(pd.DataFrame({"d": ["2023-01-01", "01/02/2023"]}), date="d"),
        SeriesInputError,
        ["column 'd' (date=) has unparseable dates, e.g. '01/02/2023'", "at row(s) 1"],
    ),
    (
        "date-time-join-iso-row-in-dd-mm-column",
        lambda tmp: load_source(
            "attendances",
            {
                "file": _write(tmp, "att.csv", JOIN_CSV).name,
                "date_time": {"arrival": ["ArrDate", "ArrTime"]},
                "date_format": {"arrival": "%d/%m/%Y"},
            },
            tmp,
        ),
        ExtractValidationError,
        [
            "unparseable (column 'arrival', rows 3)",
            "Row 3: '2023-01-06' does not match the column's date format '%d/%m/%Y'",
            "it is ISO 8601",
            "different layout",
        ],
    ),
]


@pytest.mark.parametrize(
    ("call", "cls", "words"), [c[1:] for c in SWEEP_API_CASES], ids=[c[0] for c in SWEEP_API_CASES]
)
def test_sweep_api_raises_a_toolkit_error_that_locates_the_fault(call, cls, words, tmp_path):
    with pytest.raises(EvalToolkitError) as info:  # a dependency's exception is not caught: the test fails
        call(tmp_path) if call.__code__.co_argcount else call()
    assert isinstance(info.value, cls), (type(info.value), str(info.value))
    assert type(info.value).__module__.startswith("evaltoolkit"), type(info.value)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


DDMM_PER_COLUMN = "arrival=%d/%m/%Y %H:%M:%S,departure=%d/%m/%Y %H:%M:%S"

# (id, arguments (names in {} are folders of `sweep`; {tmp} is a fresh folder), exit code, words)
SWEEP_CLI_CASES: list[tuple[str, list[str], int, list[str]]] = [
    (
        "validate-population-1e300",
        ["validate", "{huge}", "--start", "2019-04-01", "--extract-date", "2020-04-01"],
        EXIT_INVALID,
        ["population (population.csv): ERRORS", "unparseable (population)", "'1e300' (row 2)", "10^12"],
    ),
    (
        "series-population-1e300",
        ["series", "{huge}", "--out", "{tmp}/o"],
        EXIT_INVALID,
        ["file population.csv", "column 'population', rows 2", "'1e300' (row 2)", "whole numbers"],
    ),
    # --date-format on a folder: per column (the form --help shows), applied to each extract's own columns
    (
        "series-date-format-per-column",
        ["series", "{ddmm}", "--out", "{tmp}/o", "--date-format", DDMM_PER_COLUMN],
        0,
        ["site-periods"],
    ),
    (
        "validate-date-format-per-column",
        ["validate", "{ddmm}", "--date-format", DDMM_PER_COLUMN],
        0,
        ["attendances (attendances.csv): ok", "population (population.csv): ok"],
    ),
    (
        "series-date-format-one-layout-for-a-folder",
        ["series", "{ddmm}", "--out", "{tmp}/o", "--date-format", "%d/%m/%Y %H:%M:%S"],
        EXIT_INVALID,
        [
            "file population.csv",
            "column 'period'",
            "'2019-04-01' does not match the column's date format '%d/%m/%Y %H:%M:%S'",
            "--date-format '%d/%m/%Y %H:%M:%S' applies to every date column of every extract in the folder",
            "--date-format 'arrival=%d/%m/%Y %H:%M:%S,departure=%d/%m/%Y %H:%M:%S'",
            "Fix the rows listed in the file (or give its columns the canonical names)",
        ],
    ),
    (
        "series-date-format-unknown-code",
        ["series", "{ddmm}", "--out", "{tmp}/o", "--date-format", "%Q"],
        EXIT_USAGE,
        ["--date-format '%Q' is not a valid strftime layout", "%Q is not a date or time code"],
    ),
    (
        "validate-date-format-unknown-code",
        ["validate", "{ddmm}", "--date-format", "arrival=%Q"],
        EXIT_USAGE,
        ["--date-format for column 'arrival' '%Q'", "not a valid strftime layout"],
    ),
    (
        "validate-date-format-names-no-date-column",
        ["validate", "{ddmm}", "--date-format", "arival=%d/%m/%Y"],
        EXIT_USAGE,
        [
            "--date-format names 'arival'",
            "not a date column of any extract",
            "attendances: arrival, departure",
        ],
    ),
    # validate on a folder explains each error under its table: example row, readings, the option to pass
    (
        "validate-folder-dd-mm-explained",
        ["validate", "{ddmm}"],
        EXIT_INVALID,
        [
            "unparseable (arrival):",
            "Row 2: '02/10/2018 18:53:26' is not ISO 8601",
            "could be 2 October 2018 or 10 February 2018",
            "CLI option --date-format '%d/%m/%Y %H:%M:%S'",
            "--date-format 'arrival=%d/%m/%Y %H:%M:%S'",
        ],
    ),
    (
        "validate-folder-offsets-explained",
        ["validate", "{tz}"],
        EXIT_INVALID,
        ["unparseable (arrival):", "Row 2:", "has a time-zone offset", "CLI option --timezone Europe/London"],
    ),
    (
        "validate-folder-mixed-layouts-explained",
        ["validate", "{mixed}"],
        EXIT_INVALID,
        [
            "unparseable (arrival):",
            "6 rows in 'arrival'",
            "these rows are in a different layout",
            "re-save these rows as ISO 8601",
        ],
    ),
]


@pytest.mark.parametrize(
    ("args", "code", "words"), [c[1:] for c in SWEEP_CLI_CASES], ids=[c[0] for c in SWEEP_CLI_CASES]
)
def test_sweep_cli_fails_with_one_message_and_the_documented_code(args, code, words, sweep, tmp_path):
    result = _run(*_expand(args, sweep, tmp_path))
    text = " ".join(result.output.split())
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output and "Warning" not in result.output, result.output
    assert "data.sources.population.columns" not in result.output  # no protocol key for a folder
    for word in words:
        assert " ".join(word.split()) in text, (word, result.output)
