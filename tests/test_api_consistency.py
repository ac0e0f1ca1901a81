"""One spelling per concept in the public API (issue 10), and the deprecation path of the old spellings.

The first half walks the public signatures of every public module (functions, class constructors, the
public methods of public classes, pydantic protocol models) and fails on a second spelling of a concept
listed in :data:`CONCEPTS`. The second half calls every renamed keyword the old way and checks that it
still works, with a ``DeprecationWarning`` that names the old name, the new name and the release that
removes it, and gives the same result as the new spelling.
"""

from __future__ import annotations

import importlib
import inspect
import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import pytest

from evaltoolkit._deprecate import REMOVED_IN, RENAMED, renamed_kwargs

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parents[1]

PUBLIC_MODULES = (
    "evaltoolkit.data",
    "evaltoolkit.series",
    "evaltoolkit.its",
    "evaltoolkit.rom",
    "evaltoolkit.prepost",
    "evaltoolkit.privacy",
    "evaltoolkit.disclosure",
    "evaltoolkit.spc",
    "evaltoolkit.economics",
    "evaltoolkit.protocol",
    "evaltoolkit.report",
    "evaltoolkit.synth",
    "evaltoolkit.pipeline",
)

# concept -> (the one spelling, banned synonyms: exact names or regular expressions (anchored)).
# Survey of the API (issue 10) and what was done with each concept that had more than one spelling:
# * person-id column: patient= (series, prepost mirror analyses) and subject= (prepost paired analyses,
#   protocol outcome_measures.subject) -> subject= everywhere; patient= deprecated.
# * columns copied by rom.score: id_columns= -> keep_columns= (they are columns to copy, not the person id).
# * pre=/post=: occasion values (values of the time column) in paired_change, analysed_n, plot_paired and
#   the protocol, but score columns in rom.reliable_change / plot_jacobson -> pre_column=/post_column= there.
# * kind of standard error: se= (a keyword, a protocol key, an ITSResult attribute and a column of power()
#   and MethodComparison.table(), while "se" also reads as a standard error) -> se_type.
# * invalid-value policy: on_invalid= (evaltoolkit.data) and invalid= (rom) -> on_invalid=.
# * colour: color= (plot_trajectory) and colours= (plot_reliable_change) -> color/colors.
# * show_mean= (plot_paired) and show_means= (plot_score_distributions) -> show_means=.
# * rates per N people: per= (series.rates, protocol series.per) and rate_per= (ITSResult.plot) -> per=.
# * output folder: out (write_outputs, write_series, the CLI's --out) and out_dir (write_synthetic) -> out.
# * shares: 0-1 shares are "proportion" (or "fraction" for a 0-1 setting such as
#   report.max_missing_fraction); the Talking Therapies share column was "rate" (which elsewhere means events
#   per population) -> "proportion"; percentages 0-100 are called "percent". Columns are not signatures, so
#   the share columns are checked in test_share_columns_are_0_to_1_or_named_percent.
# Left as they are, with the reason:
# * freq= (Python, as pandas) and frequency: (protocol key, whole words for evaluators): see JUSTIFIED.
# * the occasion column is time= in evaltoolkit.prepost and occasion: in the protocol, because the protocol's
#   outcome_measures also has a numeric time: (weeks since the start, for the trajectories); in Python the
#   two roles are separate functions (paired_change's time= is the occasion, fit_trajectories' the number).
# * end= of patient_windows / mirror_windows names the cohort's end-of-follow-up column, while end= of the
#   series functions is the last period: a homonym, not a synonym. Renaming it (e.g. follow_up_end=) touches
#   the cohort date-parsing lines changed elsewhere in issue 10; left for the next release.
# * the input frame is named after what it holds (events, spells, cohort, windows, responses, changes,
#   scores, data, df in evaltoolkit.data): it is the first, positional argument, never a keyword to learn.
# * censor_at= (a role: the date follow-up stops, usually the extract date) and the protocol's
#   window.extract_date (the date itself); threshold= (a count to reach, or the reliable-change band drawn),
#   cutoff= (a clinical cut-off) and rc= (a reliable-change value): different quantities.
# * the talking_therapies_outcomes keywords phq9_pre=, gad7_post=, ... are score columns named with their
#   instrument; they are not pre=/post= (occasion values).
CONCEPTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "person-id column": (
        "subject",
        (
            "patient",
            "patient_id",
            "patient_col",
            "patient_column",
            "person",
            "person_id",
            "subject_id",
            "pid",
            "id_col",
            "id_column",
            "id_columns",
            "client",
            "client_id",
        ),
    ),
    "columns copied to the output": ("keep_columns", ("copy_columns", "carry", "carry_columns", "keep")),
    "kind of standard error": ("se_type", ("se", "se_kind", "standard_error_type", "std_error_type")),
    "confidence level": ("conf_level", ("alpha", "level", "conf", "confidence", "ci", "ci_level", "cl")),
    "period frequency": ("freq", ("period_freq", "periodicity", "interval")),
    "date column": ("date", ("date_col", "date_column", "date_field", r".+_date_col")),
    "first and last period": (
        "start/end",
        (
            "start_date",
            "end_date",
            "from_date",
            "to_date",
            "date_from",
            "date_to",
            "first_period",
            "last_period",
        ),
    ),
    "share (0-1)": (
        "proportion (or *_fraction for a 0-1 setting)",
        (
            "pct",
            "percent",
            "percentage",
            "share",
            r".+_pct",
            r"pct_.+",
            r".+_percent",
            r".+_share",
            r".+_percentage",
        ),
    ),
    "invalid-value policy": ("on_invalid", ("invalid", "on_bad", "bad_values", "on_error")),
    "colour": ("color / colors", ("colour", "colours")),
    "show the means": ("show_means", ("show_mean", "means", "plot_means")),
    "rates per N": ("per", ("rate_per", "per_n", "scale_per", "multiplier")),
    "output folder": ("out", ("out_dir", "outdir", "output", "output_dir", "out_folder", "output_folder")),
    "score columns of a wide frame": (
        "pre_column / post_column",
        ("pre_col", "post_col", "pre_score", "post_score"),
    ),
}

# Names that look like a second spelling but are not, with the reason (qualified name, parameter).
JUSTIFIED: dict[tuple[str, str], str] = {
    # The protocol is YAML written by evaluators, in whole words (frequency: MS); the Python keyword is
    # pandas' freq=. The protocol README documents the key; SeriesSpec is built only by the loader.
    ("protocol.SeriesSpec", "frequency"): "protocol key in whole words; Python keyword is pandas' freq",
}

# Parameter names with one meaning each that a second concept must not reuse: pre=/post= are values of
# the occasion column, so a signature with pre/post also names that column (time=, or occasion= in the
# protocol, where time is the numeric time of the trajectories).
OCCASION_COLUMN = ("time", "occasion")


for _name in PUBLIC_MODULES:  # importing them fills the registry of renamed keywords
    importlib.import_module(_name)


def _resolve(where: str) -> Any:
    """The object named by a registry key such as ``evaltoolkit.its.results.ITSResult.plot``."""
    parts = where.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise AssertionError(f"cannot resolve {where}")


def _public(module: Any) -> list[str]:
    return list(getattr(module, "__all__", [n for n in dir(module) if not n.startswith("_")]))


def public_signatures() -> Iterator[tuple[str, inspect.Signature]]:
    """(qualified name, signature) of every public callable of the public modules."""
    seen: set[int] = set()
    for modname in PUBLIC_MODULES:
        module = importlib.import_module(modname)
        short = modname.split(".")[-1]
        for name in _public(module):
            obj = getattr(module, name)
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            targets: list[tuple[str, Any]] = []
            if inspect.isfunction(obj):
                targets.append((f"{short}.{name}", obj))
            elif inspect.isclass(obj):
                targets.append((f"{short}.{name}", obj))
                for attr, value in vars(obj).items():
                    if not attr.startswith("_") and inspect.isfunction(value):
                        targets.append((f"{short}.{name}.{attr}", value))
            for qualname, target in targets:
                try:
                    sig = inspect.signature(target)
                except (TypeError, ValueError):  # builtins and exception classes without a signature
                    continue
                yield qualname, sig


def _matches(name: str, banned: str) -> bool:
    return re.fullmatch(banned, name) is not None


def test_the_walk_sees_every_public_module() -> None:
    found = {q.split(".")[0] for q, _ in public_signatures()}
    assert found == {m.split(".")[-1] for m in PUBLIC_MODULES}
    names = {q for q, _ in public_signatures()}
    # a few that must be there: functions, pydantic models, dataclasses and a method
    assert {"series.count_events", "protocol.FitOptions", "its.ITSResult", "its.ITSResult.plot"} <= names


def test_no_second_spelling_of_a_concept() -> None:
    offences = []
    for qualname, sig in public_signatures():
        for param in sig.parameters:
            if (qualname, param) in JUSTIFIED:
                continue
            for concept, (allowed, banned) in CONCEPTS.items():
                if any(_matches(param, b) for b in banned):
                    offences.append(f"{qualname}({param}=): {concept} is spelled {allowed}")
    assert offences == [], "\n".join(offences)


def test_justified_exceptions_still_exist() -> None:
    params = {(q, p) for q, sig in public_signatures() for p in sig.parameters}
    assert set(JUSTIFIED) <= params  # a justification for a name that is gone is stale


def test_pre_and_post_are_occasion_values_wherever_they_appear() -> None:
    offences = []
    for qualname, sig in public_signatures():
        names = set(sig.parameters)
        if names & {"pre", "post"} and not names & set(OCCASION_COLUMN):
            offences.append(f"{qualname}: pre/post without the occasion column (time= or occasion=)")
    assert offences == [], "\n".join(offences)
    sig = inspect.signature(importlib.import_module("evaltoolkit.rom").reliable_change)
    assert {"pre_column", "post_column"} <= set(sig.parameters)


def test_deprecated_keywords_are_only_reachable_through_the_shim() -> None:
    assert RENAMED, "the registry of renamed keywords is empty"
    for where, renames in RENAMED.items():
        params = set(inspect.signature(_resolve(where)).parameters)
        for old, new in renames.items():
            assert old not in params and new in params, where
            if old in ("pre", "post"):  # kept with one meaning (occasion values): checked above
                continue
            assert any(_matches(old, b) for _, banned in CONCEPTS.values() for b in banned), (
                f"{where}: the old keyword {old}= is not a banned synonym in CONCEPTS"
            )


def test_readme_lists_every_deprecation() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Deprecations") :]
    section = section[: section.find("\n## ")] if "\n## " in section else section
    assert REMOVED_IN in section
    for where, renames in RENAMED.items():
        func = where.rsplit(".", 1)[-1]
        for old, new in renames.items():
            assert re.search(rf"`{re.escape(old)}=?`[^\n]*→[^\n]*`{re.escape(new)}=?`", section), (where, old)
            assert func in section, where


def test_share_columns_are_0_to_1_or_named_percent() -> None:
    from evaltoolkit.rom import change_summary, reliable_change, talking_therapies_outcomes
    from evaltoolkit.rom import talking_therapies_summary as tts

    d = pd.DataFrame({"pre": [16, 16, 12, 8], "post": [9, 11, 12, 14]})
    summary = change_summary(reliable_change(d, "phq9", pre_column="pre", post_column="post"))
    # percent is 0-100: 4 people classified, so each is 25 percent
    assert summary["percent"].sum() == pytest.approx(100.0)
    tt = pd.DataFrame({"p0": [15, 12, 8, 14], "p1": [8, 11, 9, 20], "g0": [10, 9, 5, 6], "g1": [6, 4, 4, 2]})
    out = tts(talking_therapies_outcomes(tt, phq9_pre="p0", phq9_post="p1", gad7_pre="g0", gad7_post="g1"))
    assert "rate" not in out.columns  # a rate elsewhere is events per population
    assert out.set_index("indicator").loc["caseness_at_start", "proportion"] == pytest.approx(3 / 4)
    assert out["proportion"].between(0, 1).all()


# -------------------------------------------------------------------------------- the deprecation path


def _events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "pid": ["a", "a", "a", "b", "b", "c"],
            "arrival": pd.to_datetime(
                ["2024-01-03", "2024-01-20", "2024-03-02", "2024-01-10", "2024-02-28", "2024-02-01"]
            ),
            "site": ["X"] * 6,
        }
    )


def _spells() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "pid": ["a", "a", "b"],
            "admitted": pd.to_datetime(["2024-01-02", "2024-01-25", "2024-02-01"]),
            "discharged": pd.to_datetime(["2024-01-10", "2024-02-03", "2024-02-05"]),
        }
    )


def _cohort() -> pd.DataFrame:
    return pd.DataFrame({"pid": ["a", "b"], "index_date": pd.to_datetime(["2024-02-01", "2024-02-10"])})


def _windows() -> pd.DataFrame:
    rows = []
    for arm, before, after in (("service", [6, 4, 5, 3], [2, 2, 1, 1]), ("control", [6, 4, 5], [3, 3, 4])):
        for i, (b, a) in enumerate(zip(before, after, strict=True)):
            rows += [(f"{arm}{i}", arm, "before", 365, b), (f"{arm}{i}", arm, "after", 365, a)]
    return pd.DataFrame(rows, columns=["pid", "arm", "window", "exposure_days", "attendances"])


def _responses() -> pd.DataFrame:
    r = pd.DataFrame({"pid": ["a", "b", "c"], "wave": [1, 1, 2]})
    for i in range(1, 10):
        r[f"phq9_{i}"] = [1, 2, 3]
    return r


def _its_frame() -> pd.DataFrame:
    t = np.arange(24)
    rng = np.random.default_rng(3)
    counts = np.round(10 + 0.1 * t - 2 * (t >= 12) + rng.normal(0, 0.5, 24))
    return pd.DataFrame({"t": t, "y": counts.astype("int64"), "pop": 1000})


def _axes_summary(ax: Any) -> Any:
    out = (
        ax.get_ylabel(),
        [tuple(np.asarray(line.get_ydata(), dtype=float).round(9)) for line in ax.get_lines()],
        [tuple(map(tuple, np.asarray(c.get_facecolors()).round(6))) for c in ax.collections],
        [tuple(np.asarray(p.get_facecolor()).round(6)) for p in ax.patches],
    )
    plt.close(ax.figure)
    return out


def _same(a: Any, b: Any) -> None:
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    else:
        assert a == b


def _cases() -> dict[str, tuple[str, str, Callable[..., Any], dict[str, Any], Callable[[Any], Any]]]:
    """``{label: (registry key, old keyword, function, other keywords, result normaliser)}``."""
    from evaltoolkit import prepost, rom, series, synth
    from evaltoolkit.its import ITSResult, fit_its, power

    ident: Callable[[Any], Any] = lambda x: x  # noqa: E731
    its_res = fit_its(_its_frame(), outcome="y", time="t", interruptions=12, family="poisson", offset="pop")
    wide = pd.DataFrame({"pid": ["a", "b", "c"], "first": [16, 12, 8], "last": [9, 12, 14]})
    changes = rom.reliable_change(wide, "phq9", pre_column="first", post_column="last")
    paired = pd.DataFrame({"pid": ["a", "a", "b", "b"], "t": ["pre", "post"] * 2, "y": [3.0, 1.0, 4.0, 2.0]})
    ev, sp, co, w = _events(), _spells(), _cohort(), _windows()
    cases: dict[str, tuple[str, str, Callable[..., Any], dict[str, Any], Callable[[Any], Any]]] = {
        "reattendances": (
            "subject",
            "patient",
            series.reattendances,
            {"events": ev, "date": "arrival"},
            ident,
        ),
        "reattendance_series": (
            "subject",
            "patient",
            series.reattendance_series,
            {"events": ev, "date": "arrival", "censor_at": "2024-04-01"},
            ident,
        ),
        "readmissions": (
            "subject",
            "patient",
            series.readmissions,
            {"spells": sp, "admitted": "admitted", "discharged": "discharged"},
            ident,
        ),
        "readmission_series": (
            "subject",
            "patient",
            series.readmission_series,
            {"spells": sp, "admitted": "admitted", "discharged": "discharged", "censor_at": "2024-04-01"},
            ident,
        ),
        "frequent_attenders": (
            "subject",
            "patient",
            series.frequent_attenders,
            {"events": ev, "date": "arrival", "threshold": 2},
            ident,
        ),
        "frequent_attender_series": (
            "subject",
            "patient",
            series.frequent_attender_series,
            {"events": ev, "date": "arrival", "threshold": 2, "window_months": 2},
            ident,
        ),
        "patient_windows": (
            "subject",
            "patient",
            series.patient_windows,
            {
                "cohort": co,
                "attendances": ev,
                "before_months": 1,
                "after_months": 1,
                "censor_at": "2024-04-01",
            },
            ident,
        ),
        "mirror_windows": (
            "subject",
            "patient",
            prepost.mirror_windows,
            {
                "cohort": co,
                "attendances": ev,
                "before_months": 1,
                "after_months": 1,
                "censor_at": "2024-04-01",
            },
            ident,
        ),
        "patient_rates": ("subject", "patient", prepost.patient_rates, {"windows": w}, ident),
        "mirror_change": ("subject", "patient", prepost.mirror_change, {"windows": w}, ident),
        "mirror_did": (
            "subject",
            "patient",
            prepost.mirror_did,
            {"windows": w, "group": "arm", "treated": "service"},
            ident,
        ),
        "score": (
            "keep_columns",
            "id_columns",
            rom.score,
            {"responses": _responses(), "instrument": "phq9"},
            ident,
        ),
        "score(invalid)": (
            "on_invalid",
            "invalid",
            rom.score,
            {"responses": _responses().assign(phq9_1=[1, 9, 2]), "instrument": "phq9"},
            ident,
        ),
        "internal_consistency": (
            "on_invalid",
            "invalid",
            rom.internal_consistency,
            {"responses": _responses().assign(phq9_1=[1, 9, 2], phq9_2=[0, 1, 3]), "instrument": "phq9"},
            ident,
        ),
        "reliable_change(pre)": (
            "pre_column",
            "pre",
            rom.reliable_change,
            {"data": wide, "instrument": "phq9", "post_column": "last"},
            ident,
        ),
        "reliable_change(post)": (
            "post_column",
            "post",
            rom.reliable_change,
            {"data": wide, "instrument": "phq9", "pre_column": "first"},
            ident,
        ),
        "plot_jacobson": (
            "pre_column",
            "pre",
            rom.plot_jacobson,
            {"changes": changes, "post_column": "last"},
            _axes_summary,
        ),
        "plot_jacobson(post)": (
            "post_column",
            "post",
            rom.plot_jacobson,
            {"changes": changes, "pre_column": "first"},
            _axes_summary,
        ),
        "plot_paired": (
            "show_means",
            "show_mean",
            prepost.plot_paired,
            {"data": paired, "subject": "pid", "time": "t", "value": "y", "pre": "pre", "post": "post"},
            _axes_summary,
        ),
        "plot_reliable_change": (
            "colors",
            "colours",
            prepost.plot_reliable_change,
            {"data": changes},
            _axes_summary,
        ),
        "fit_its": (
            "se_type",
            "se",
            fit_its,
            {"data": _its_frame(), "outcome": "y", "time": "t", "interruptions": 12, "lags": 1},
            lambda r: r.coefficients(),
        ),
        "power": (
            "se_type",
            "se",
            power,
            {"n_pre": 8, "n_post": 8, "sd": 1.0, "lags": 1, "n_sims": 20},
            ident,
        ),
        "ITSResult.plot": ("per", "rate_per", ITSResult.plot, {"self": its_res}, _axes_summary),
        "write_synthetic": (
            "out",
            "out_dir",
            synth.write_synthetic,
            {"config": _small_synth_config()},
            sorted,
        ),
    }
    return cases


CASE_LABELS = (
    "reattendances",
    "reattendance_series",
    "readmissions",
    "readmission_series",
    "frequent_attenders",
    "frequent_attender_series",
    "patient_windows",
    "mirror_windows",
    "patient_rates",
    "mirror_change",
    "mirror_did",
    "score",
    "score(invalid)",
    "internal_consistency",
    "reliable_change(pre)",
    "reliable_change(post)",
    "plot_jacobson",
    "plot_jacobson(post)",
    "plot_paired",
    "plot_reliable_change",
    "fit_its",
    "power",
    "ITSResult.plot",
    "write_synthetic",
)

NEW_VALUES: dict[str, Any] = {
    "subject": "pid",
    "keep_columns": ["pid"],
    "on_invalid": "missing",
    "pre_column": "first",
    "post_column": "last",
    "show_means": False,
    "colors": {"improved": "#000000"},
    "se_type": "newey-west",
    "per": 1000.0,
}


@pytest.mark.parametrize("label", CASE_LABELS)
def test_old_keyword_works_with_a_deprecation_warning(label: str, tmp_path: Path) -> None:
    new, old, func, kwargs, norm = _cases()[label]
    # write_synthetic writes a dataset: the two spellings write to two folders, and the files are compared
    value, old_value = (tmp_path / "new", tmp_path / "old") if new == "out" else (NEW_VALUES[new],) * 2
    call = (lambda **kw: func(kw.pop("self"), **kw)) if "self" in kwargs else func
    expected = norm(call(**kwargs, **{new: value}))
    with pytest.warns(DeprecationWarning) as caught:
        got = norm(call(**kwargs, **{old: old_value}))
    message = str(caught[0].message)
    assert f"{old}=" in message and f"{new}=" in message and f"release {REMOVED_IN}" in message
    _same(expected, got)
    if new == "out":
        for name in ("attendances.csv", "spells.csv"):
            assert (tmp_path / "new" / name).read_bytes() == (tmp_path / "old" / name).read_bytes()


def _small_synth_config() -> Any:
    from evaltoolkit.synth import SynthConfig

    return SynthConfig(  # as tests/test_synth.py's SMALL: some data, quickly
        pd_patients_per_site=60,
        other_patients_per_site=400,
        rom_patients=20,
        staff_n=10,
        ed_pd_rate_per_100k=2.0,
        ed_other_rate_per_100k=4.0,
        spell_pd_rate_per_100k=0.5,
        spell_other_rate_per_100k=1.0,
    )


def test_every_renamed_keyword_has_a_deprecation_case() -> None:
    cases = _cases()
    assert set(cases) == set(CASE_LABELS)
    covered = {(f"{c[2].__module__}.{c[2].__qualname__}", c[1]) for c in cases.values()}
    registered = {(where, old) for where, renames in RENAMED.items() for old in renames}
    assert registered <= covered


def test_old_and_new_keyword_together_is_a_type_error() -> None:
    from evaltoolkit.series import reattendances

    with pytest.raises(TypeError, match=r"got both patient= \(deprecated\) and subject=; pass only subject="):
        reattendances(_events(), patient="pid", subject="pid", date="arrival")


def test_renamed_kwargs_refuses_a_rename_to_a_missing_parameter() -> None:
    with pytest.raises(TypeError, match="has no parameter 'subject'"):

        @renamed_kwargs(patient="subject")
        def f(*, person: str) -> str:  # pragma: no cover - never called
            return person


def test_se_type_renames_outside_keywords() -> None:
    from evaltoolkit.its import fit_its, parse_method, power
    from evaltoolkit.protocol.schema import FitOptions

    # the method-spec dict key
    with pytest.warns(DeprecationWarning, match=r"'se' is deprecated, use 'se_type'"):
        spec = parse_method({"method": "ols", "se": "newey-west", "lags": 1})
    assert dict(spec.options) == {"method": "ols", "se_type": "newey-west", "lags": 1}
    # the protocol key
    with pytest.warns(DeprecationWarning, match=r"protocol key se: is deprecated, use se_type:"):
        opts = FitOptions.model_validate({"label": "NW", "se": "newey-west", "lags": 1})
    assert opts.se_type == "newey-west"
    # the ITSResult attribute
    res = fit_its(_its_frame(), outcome="y", time="t", interruptions=12, se_type="newey-west", lags=1)
    with pytest.warns(DeprecationWarning, match=r"attribute \.se is deprecated, use \.se_type"):
        assert res.se == "newey-west"
    assert res.to_dict()["model"]["se_type"] == "newey-west" and "se" not in res.to_dict()["model"]
    # the columns that hold the kind of standard error
    table = power(n_pre=8, n_post=8, sd=1.0, se_type=["model", "newey-west"], lags=1, n_sims=10)
    assert "se" not in table.columns and table["se_type"].tolist() == ["model"] * 2 + ["newey-west"] * 2


def test_score_id_columns_option_of_the_cli_still_works(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from evaltoolkit.cli import app

    src = tmp_path / "answers.csv"
    _responses().to_csv(src, index=False)
    runner = CliRunner()
    new = runner.invoke(
        app, ["score", str(src), "-i", "phq9", "-o", str(tmp_path / "a.csv"), "--keep-columns", "pid"]
    )
    assert new.exit_code == 0, new.output
    old = runner.invoke(
        app, ["score", str(src), "-i", "phq9", "-o", str(tmp_path / "b.csv"), "--id-columns", "pid"]
    )
    assert old.exit_code == 0, old.output
    assert "--id-columns is deprecated, use --keep-columns" in old.output and REMOVED_IN in old.output
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()
    assert pd.read_csv(tmp_path / "a.csv").columns[0] == "pid"
    both = runner.invoke(
        app,
        [
            "score",
            str(src),
            "-i",
            "phq9",
            "-o",
            str(tmp_path / "c.csv"),
            "--id-columns",
            "pid",
            "--keep-columns",
            "pid",
        ],
    )
    assert both.exit_code == 2 and "give --keep-columns only" in both.output


def test_no_deprecation_warning_from_internal_callers() -> None:
    """The toolkit's own code uses the new names: importing and a quick call path warn about nothing."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        for modname in PUBLIC_MODULES:
            importlib.import_module(modname)
        from evaltoolkit.prepost import mirror_windows

        mirror_windows(
            _cohort(),
            attendances=_events(),
            subject="pid",
            before_months=1,
            after_months=1,
            censor_at="2024-04-01",
        )


def test_messages_name_the_new_keyword() -> None:
    from evaltoolkit.its import fit_its
    from evaltoolkit.its.errors import ITSInputError
    from evaltoolkit.rom import RomInputError, score

    with pytest.raises(RomInputError, match=r"on_invalid must be 'raise' or 'missing', not 'x'"):
        score(_responses(), "phq9", on_invalid="x")  # type: ignore[arg-type]
    bad = _responses().assign(phq9_1=[1, 9, 2])
    with pytest.raises(RomInputError, match=r"pass on_invalid='missing' to score them as missing"):
        score(bad, "phq9")
    with pytest.raises(ITSInputError, match=r"se_type='newey-west' needs lags=L"):
        fit_its(_its_frame(), outcome="y", time="t", interruptions=12, se_type="newey-west")
