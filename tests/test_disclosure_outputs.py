"""Disclosure control of whole outputs: a differencing attack on every ready protocol's published tables, and
a canary run that plants identifiers, names and free text in the inputs and looks for them in every output."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from evaltoolkit.disclosure import recoverable
from evaltoolkit.disclosure.margins import RowSum, expand_relations
from evaltoolkit.report import build_report, render_html, render_markdown, run_protocol, write_outputs

ROOT = Path(__file__).resolve().parents[1]
READY = ("project_air", "change_programme", "leadership_programme", "crisis_pathway")
CATEGORIES = ("recovered", "improved", "unchanged", "deteriorated")


@pytest.fixture(scope="module")
def published(evaluations):
    return {name: evaluations[name].results for name in READY}


def _tables(results: dict) -> tuple[dict[str, pd.DataFrame], dict[str, list]]:
    """Published tables of results.json with their additive relations, declared by hand (not by the code
    under test): rows read = excluded + kept; people with a valid pre score = completers + drop-outs;
    people classified = the four reliable-change categories; people who started = classified + not."""
    tables: dict[str, pd.DataFrame] = {}
    margins: dict[str, list] = {}
    inputs = pd.DataFrame(results["data"]["inputs"])
    tables["inputs"] = inputs[["kind", "rows_read", "rows_excluded", "rows_kept"]]
    margins["inputs"] = [RowSum("rows_read", ("rows_excluded", "rows_kept"))]
    om = results.get("outcome_measures")
    if om:
        att = pd.DataFrame(om["attrition"])
        tables["attrition"] = att[["outcome", "n_started", "n_valid_pre", "n_completers", "n_dropouts"]]
        margins["attrition"] = [RowSum("n_valid_pre", ("n_completers", "n_dropouts"))]
        rc = pd.DataFrame(om["reliable_change"])
        started = {a["outcome"]: a["n_started"] for a in om["analysed"]}
        rows = []
        for outcome, g in rc.groupby("outcome", sort=False):
            n = dict(zip(g["category"], g["n"], strict=True))
            rows.append(
                {
                    **{c: n[c] for c in CATEGORIES},
                    "n_classified": g["n_classified"].iloc[0],
                    "not_classified": n["not classified"],
                    "n_started": started[outcome],
                }
            )
        tables["reliable_change"] = pd.DataFrame(rows)
        margins["reliable_change"] = [
            RowSum("n_classified", CATEGORIES),
            RowSum("n_started", ("n_classified", "not_classified")),
        ]
    return tables, margins


@pytest.mark.slow
@pytest.mark.parametrize("name", READY)
def test_no_suppressed_cell_can_be_recovered_by_differencing(published, name):
    tables, margins = _tables(published[name])
    attack = recoverable(tables, expand_relations(tables, margins), "nhs")
    assert not attack["recovered"].any(), attack[attack["recovered"]]


@pytest.mark.slow
def test_the_attack_would_find_an_unrounded_total(published):
    """The same relations on a row whose total and other parts are exact (a threshold-only policy without
    rounding or secondary suppression) give the hidden cell away: the attack is not blind."""
    tables, margins = _tables(published["leadership_programme"])
    rc = tables["reliable_change"]
    hidden = rc.index[rc["deteriorated"] == "*"]
    assert len(hidden)  # the bundled data have a suppressed category
    row = rc.loc[[hidden[0]]].reset_index(drop=True).astype(object)
    row.loc[0, ["recovered", "improved", "unchanged", "n_classified", "not_classified", "n_started"]] = [
        0,
        9,
        126,
        140,
        60,
        200,
    ]
    naive = {"reliable_change": row}
    attack = recoverable(
        naive, expand_relations(naive, {"reliable_change": margins["reliable_change"]}), "ukllc"
    )
    assert attack.loc[attack["column"] == "deteriorated", "recovered"].all()
    assert attack.loc[attack["column"] == "deteriorated", "lower"].iloc[0] == pytest.approx(5)


# -- canary: planted identifiers, names and free text ------------------------------------------------------
CANARY_ID = "ZQCANARY0001"
CANARY_NAME = "Quillon Xerxesworth"
CANARY_TEXT = "canary-free-text: called 999 from the bridge, lives with sister"


def _plant(data: Path) -> None:
    att = pd.read_csv(data / "attendances.csv", dtype=str)
    first = att["patient_id"].iloc[0]
    att.loc[att["patient_id"] == first, "patient_id"] = CANARY_ID
    att["patient_name"] = CANARY_NAME
    att["presenting_complaint"] = CANARY_TEXT
    att.to_csv(data / "attendances.csv", index=False)
    spells = pd.read_csv(data / "spells.csv", dtype=str)
    spells.loc[spells["patient_id"] == first, "patient_id"] = CANARY_ID
    spells["clinician_note"] = CANARY_TEXT
    spells.to_csv(data / "spells.csv", index=False)
    cohort = pd.read_csv(data / "cohort.csv", dtype=str)
    cohort.loc[cohort.index[0], "patient_id"] = CANARY_ID
    cohort["next_of_kin"] = CANARY_NAME
    cohort.to_csv(data / "cohort.csv", index=False)
    rom = pd.read_csv(data / "rom_responses.csv", dtype=str)
    rom.loc[rom["patient_id"] == rom["patient_id"].iloc[0], "patient_id"] = CANARY_ID
    rom["therapist_comment"] = CANARY_TEXT
    rom.to_csv(data / "rom_responses.csv", index=False)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["project_air", "change_programme"])
def test_canary_identifiers_names_and_free_text_never_leave(tmp_path, name):
    data = tmp_path / "data"
    shutil.copytree(ROOT / "synthetic_data", data)
    _plant(data)
    spec = yaml.safe_load((ROOT / "protocols" / f"{name}.yaml").read_text(encoding="utf-8"))
    spec["data"]["folder"] = "data"
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), encoding="utf-8")
    evaluation = run_protocol(path)
    out = tmp_path / "out"
    write_outputs(evaluation, out, command="canary")
    report = build_report(evaluation.results)
    # every file of the output folder, and the report as the book page renders it (Markdown and HTML)
    texts = [p.read_bytes() for p in out.rglob("*") if p.is_file()]
    texts += [render_markdown(report).encode(), render_html(report).encode()]
    for needle in (CANARY_ID, CANARY_NAME, "canary-free-text", "Xerxesworth", "sister"):
        hits = [i for i, t in enumerate(texts) if needle.encode() in t]
        assert not hits, f"{needle!r} found in an output"


@pytest.mark.slow
@pytest.mark.parametrize("name", READY)
def test_counts_in_prose_repeat_the_published_tables(published, name):
    """The prose adds nothing to a differencing attack: each count the summary quotes for an extract is the
    published value of the data-quality table, not a more exact one."""
    import re

    r = published[name]
    summary = " ".join(r["summary"])
    for i in r["data"]["inputs"]:
        m = re.search(
            rf"{i['kind']}: ([\d,]+|fewer than \d+) rows read, ([\d,]+|fewer than \d+) excluded", summary
        )
        assert m, i["kind"]
        for quoted, value in zip(m.groups(), (i["rows_read"], i["rows_excluded"]), strict=True):
            if value == "*":
                assert quoted.startswith("fewer than")
            else:
                assert int(quoted.replace(",", "")) == value


@pytest.mark.slow
@pytest.mark.book
def test_canary_never_reaches_a_built_book_page(tmp_path):
    """The canary run again, through a Jupyter Book build: the page generated for the planted protocol is
    executed by the book builder and no built file (HTML, executed notebook, search index) holds a planted
    identifier, name or free text."""
    import os
    import subprocess
    import sys

    from evaltoolkit.report.book import book_page

    data = tmp_path / "data"
    shutil.copytree(ROOT / "synthetic_data", data)
    _plant(data)
    spec = yaml.safe_load((ROOT / "protocols" / "project_air.yaml").read_text(encoding="utf-8"))
    spec["data"]["folder"] = "../data"
    spec["data"]["kind"] = "real"  # planted identifiers stand for real data: never offered for download
    (tmp_path / "protocols").mkdir()
    protocol = tmp_path / "protocols" / "project_air.yaml"
    protocol.write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), encoding="utf-8")
    book = tmp_path / "book"
    (book / "reports").mkdir(parents=True)
    (book / "_config.yml").write_text(
        "title: canary\nonly_build_toc_files: true\nexecute:\n  execute_notebooks: force\n  timeout: 600\n"
        "  allow_errors: false\nsphinx:\n  config:\n    intersphinx_mapping: {}\n",
        encoding="utf-8",
    )
    (book / "_toc.yml").write_text("format: jb-book\nroot: reports/project_air\n", encoding="utf-8")
    (book / "reports" / "project_air.md").write_text(book_page(protocol, book_dir=book), encoding="utf-8")
    jb = Path(sys.executable).with_name("jupyter-book")
    done = subprocess.run(
        [str(jb), "build", str(book), "--keep-going"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"},
    )
    html = book / "_build" / "html"
    page = html / "reports" / "project_air.html"
    assert page.exists(), done.stdout[-3000:] + done.stderr[-2000:]
    assert "Traceback" not in page.read_text(encoding="utf-8")
    assert "ED attendances" in page.read_text(encoding="utf-8")  # the executed report is on the page
    built = [p.read_bytes() for p in (book / "_build").rglob("*") if p.is_file()]
    for needle in (CANARY_ID, CANARY_NAME, "canary-free-text", "Xerxesworth", "sister"):
        assert not any(needle.encode() in t for t in built), f"{needle!r} found in the built book"
    assert not list((book / "_build").rglob("attendances.csv"))  # real extracts are not offered
