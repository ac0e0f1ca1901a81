"""The report reads well: it says what it is (synthetic or real data, date, authors, protocol, toolkit),
its jargon links to a glossary, its figures keep their text inside the canvas in one column, suppressed
counts are explained, the data-quality appendix lists only rules that fired, book tables are formatted, and
the published book refers to no internal file and offers its inputs and results for download.

Expected values come from the protocol YAML files (read with PyYAML), the NHS small-number rule (1–7
suppressed), the PNG file headers, hand-written numbers and the committed book sources, never from the code
under test.
"""

from __future__ import annotations

import copy
import json
import re
import struct
from pathlib import Path

import pandas as pd
import pytest
import yaml
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection

import evaltoolkit
from evaltoolkit.errors import ProtocolError
from evaltoolkit.protocol import load_protocol
from evaltoolkit.report import (
    book_table,
    build_report,
    figure_specs,
    format_number,
    format_p,
    render_html,
    render_markdown,
    write_outputs,
)
from evaltoolkit.report._glossary import TERMS, link_html, link_myst
from evaltoolkit.report.figures import WIDTH, style

ROOT = Path(__file__).resolve().parents[1]
PROTOCOLS = ROOT / "protocols"
BOOK = ROOT / "book"
READY = ("project_air", "change_programme", "leadership_programme")
NHS_LOW, NHS_HIGH = 1, 7  # NHS Digital HES/ECDS rule: counts of 1 to 7 are suppressed


@pytest.fixture(scope="module")
def runs(tmp_path_factory, evaluations):
    out = {}
    for name in READY:
        folder = tmp_path_factory.mktemp(f"readable_{name}")
        evaluation = evaluations[name]  # one run per protocol per session (conftest)
        write_outputs(evaluation, folder, command=f"test {name}")
        out[name] = (evaluation, folder)
    return out


def _yaml(name: str) -> dict:
    return yaml.safe_load((PROTOCOLS / f"{name}.yaml").read_text(encoding="utf-8"))


# -- 1. what the report is --------------------------------------------------------------------------------
def test_protocol_data_kind_and_report_date(tmp_path):
    text = (PROTOCOLS / "project_air.yaml").read_text(encoding="utf-8")
    assert _yaml("project_air")["data"]["kind"] == "synthetic"
    unspecified = tmp_path / "p.yaml"
    unspecified.write_text(re.sub(r"\n  kind: synthetic[^\n]*", "", text, count=1))
    assert load_protocol(unspecified, check_files=False).data.kind == "unspecified"
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("kind: synthetic", "kind: made-up", 1))
    with pytest.raises(ProtocolError, match=r"data\.kind"):
        load_protocol(bad, check_files=False)
    bad.write_text(text.replace("date: 2026-12-05", "date: 05/12/2026", 1))
    with pytest.raises(ProtocolError, match=r"report\.date"):
        load_protocol(bad, check_files=False)


@pytest.mark.slow
@pytest.mark.parametrize("name", READY)
def test_every_report_states_what_it_is(runs, name):
    _, folder = runs[name]
    spec = _yaml(name)
    md = (folder / "report.md").read_text(encoding="utf-8")
    head = md.split("\n## ", 1)[0]  # before the first section
    assert "**Data:** SYNTHETIC" in head
    assert f"**Report date:** {spec['report']['date']}" in head
    for author in spec["authors"]:
        assert author in head
    assert f"{spec['name']} version {spec['version']}".replace("_", "\\_") in head
    assert "not registered" in head  # registration: null in the YAML
    assert f"evaltoolkit {evaltoolkit.__version__}" in head
    page = (folder / "report.html").read_text(encoding="utf-8")
    header = page.split("<nav>", 1)[0]
    assert 'class="banner synthetic"' in header and "SYNTHETIC DATA" in header
    assert str(spec["report"]["date"]) in header
    assert "<strong>Synthetic data.</strong>" in page.split("<footer>", 1)[1]
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    assert results["protocol"]["data_kind"] == "synthetic"
    assert results["protocol"]["report"]["date"] == str(spec["report"]["date"])


@pytest.mark.slow
def test_unstated_and_real_data_are_reported_as_such(runs):
    evaluation, _ = runs["change_programme"]
    unstated = copy.deepcopy(evaluation.results)
    del unstated["protocol"]["data_kind"]
    unstated["protocol"]["report"]["date"] = None
    md = render_markdown(build_report(unstated))
    assert "**Data:** NOT STATED" in md and "data.kind" in md
    assert "not set in the protocol" in md
    page = render_html(build_report(unstated))
    assert 'class="banner unstated"' in page and "banner synthetic" not in page
    real = copy.deepcopy(evaluation.results)
    real["protocol"]["data_kind"] = "real"
    page = render_html(build_report(real))
    assert "banner" not in page.split("<nav>", 1)[0].replace(".banner", "")
    assert "real records" in page


def test_book_pages_state_the_kind_of_data_and_show_the_metadata():
    for name in READY:
        page = (BOOK / "reports" / f"{name}.md").read_text(encoding="utf-8")
        assert "```{warning}\n**Synthetic data.**" in page
        assert "show_metadata(report)" in page
        assert page.index("show_metadata(report)") < page.index('show_section(report, "summary"')


# -- 2. glossary ------------------------------------------------------------------------------------------
def _glossary_terms() -> set[str]:
    text = (BOOK / "reference" / "glossary.md").read_text(encoding="utf-8")
    block = text.split("```{glossary}", 1)[1].split("\n```", 1)[0]
    return {
        line.strip().casefold()
        for line in block.splitlines()
        if line.strip() and not line.startswith((" ", ":"))
    }


def test_glossary_has_the_new_terms_and_every_linked_term():
    terms = _glossary_terms()
    wanted = [
        "Fourier terms",
        "Durbin–Watson statistic",
        "Ljung–Box test",
        "GEE",
        "Holm correction",
        "d_z",
        "g_av",
        "NWAU",
        "SPC",
        "XmR chart",
        "Laney p′ chart",
        "Capacity released",
        "Certainty rating",
        "Prediction interval",
        "Quasi-Poisson",
        "Percentile interval",
        "Mixed model",
        "Placebo test",
    ]
    assert not [w for w in wanted if w.casefold() not in terms]
    assert not [t for t, _, _ in TERMS if t.casefold() not in terms]
    bib = (BOOK / "reference" / "references.bib").read_text(encoding="utf-8")
    glossary = (BOOK / "reference" / "glossary.md").read_text(encoding="utf-8")
    keys = {k for group in re.findall(r"\{cite:[pt]\}`([^`]+)`", glossary) for k in group.split(",")}
    assert keys and all(f"{{{k.strip()}," in bib for k in keys)


def test_first_use_per_section_is_linked():
    seen: set[str] = set()
    out = link_myst("The Ljung–Box test and again Ljung–Box; Cohen's d\\_z.", seen)
    assert out == (
        "The {term}`Ljung–Box test <Ljung–Box test>` and again Ljung–Box; {term}`Cohen's d_z <Cohen's d_z>`."
    )
    assert seen == {"Ljung–Box test", "Cohen's d_z"}
    assert link_myst("Ljung–Box", seen) == "Ljung–Box"  # already linked in this section
    html_in = '<strong>GEE</strong> and <a href="#x">GEE</a> in <img alt="GEE">'
    html_out = link_html(html_in, set())
    assert html_out == (
        '<strong><a class="term" href="#term-gee">GEE</a></strong> and '
        '<a href="#x">GEE</a> in <img alt="GEE">'
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", READY)
def test_standalone_report_links_terms_to_its_own_glossary(runs, name):
    _, folder = runs[name]
    page = (folder / "report.html").read_text(encoding="utf-8")
    links = set(re.findall(r'<a class="term" href="#([^"]+)"', page))
    ids = set(re.findall(r'\bid="([^"]+)"', page))
    assert links and links <= ids
    assert 'id="glossary"' in page
    assert "## Glossary" in (folder / "report.md").read_text(encoding="utf-8")


def test_book_report_pages_link_terms():
    config = (BOOK / "_config.yml").read_text(encoding="utf-8")
    assert "nb_render_markdown_format: myst" in config
    for name in READY:
        page = (BOOK / "reports" / f"{name}.md").read_text(encoding="utf-8")
        calls = re.findall(r"show_section\(report, \"\w+\"(.*?)\)", page)
        assert calls and all(c == ", glossary=True" for c in calls)


# -- 3. figures -------------------------------------------------------------------------------------------
def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


@pytest.mark.slow
@pytest.mark.parametrize("name", READY)
def test_every_saved_figure_keeps_its_text_inside_one_column(runs, name):
    evaluation, folder = runs[name]
    dpi = _yaml(name)["report"]["dpi"]
    specs = {s.name: s for s in figure_specs(evaluation.results)}
    saved = sorted((folder / "figures").glob("*.png"))
    assert saved and {p.stem for p in saved} == set(specs)
    problems = []
    with style():
        for path in saved:
            width, _ = _png_size(path)
            if width > (WIDTH + 0.2) * dpi:  # one column: about 5 inches, readable 400 pixels wide
                problems.append(f"{path.name}: {width} px wide at {dpi} dpi")
            fig = specs[path.stem].draw()
            canvas = FigureCanvasAgg(fig)
            canvas.draw()
            renderer = canvas.get_renderer()
            w, h = fig.bbox.width, fig.bbox.height
            artists = [a for a in fig.axes if a.get_visible()] + list(fig.legends) + list(fig.texts)
            if fig._suptitle is not None:
                artists.append(fig._suptitle)
            for a in artists:  # axes: their titles, labels and the tick labels that are drawn
                box = a.get_tightbbox(renderer)
                if box is not None and (box.x0 < -1 or box.y0 < -1 or box.x1 > w + 1 or box.y1 > h + 1):
                    problems.append(f"{path.name}: {type(a).__name__} outside the canvas: {box.extents}")
            visible = [a.get_position() for a in fig.axes if a.get_visible()]
            for i, p in enumerate(visible):
                for q in visible[i + 1 :]:
                    if p.x1 <= q.x0 or q.x1 <= p.x0:
                        problems.append(f"{path.name}: panels side by side")
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_its_axis_labels_say_what_is_plotted(runs):
    evaluation, _ = runs["project_air"]
    specs = {s.name: s for s in figure_specs(evaluation.results)}
    freq = {s["name"]: s["frequency"] for s in _yaml("project_air")["series"]}
    with style():
        mean = specs["its_pd_mean_los"].draw()
        labels = {ax.get_ylabel().replace("\n", " ") for ax in mean.axes if ax.get_visible()}
        assert labels == {"mean length of stay (days)"}
        assert freq["pd_mean_los"] == "QS"  # a quarterly mean: "days per quarter" would be wrong
        counts = specs["its_pd_admissions"].draw()
        assert {ax.get_ylabel().replace("\n", " ") for ax in counts.axes if ax.get_visible()} == {
            "admissions per month"
        }


@pytest.mark.slow
def test_suppressed_counts_are_drawn_as_their_published_range_and_explained(runs):
    evaluation, _ = runs["project_air"]
    results = evaluation.results
    specs = {s.name: s for s in figure_specs(results)}
    plots = [p for p in results["its"]["plots"] if p["series"] == "pd_admissions"]
    hidden = [sum(q["observed"] is None for q in p["points"]) for p in plots]
    assert sum(hidden) > 0  # the synthetic admissions have months of 1–7
    with style():
        fig = specs["its_pd_admissions"].draw()
    for ax, n in zip([a for a in fig.axes if a.get_visible()], hidden, strict=True):
        bars = [c for c in ax.collections if isinstance(c, LineCollection)]
        segments = [s for c in bars for s in c.get_segments()]
        assert len(segments) == n
        assert all(s[0][1] == NHS_LOW and s[1][1] == NHS_HIGH for s in segments)
    caption = specs["its_pd_admissions"].caption
    assert "1–7" in caption and "not published" in caption and "above the model line" in caption
    assert "rounded to the nearest 5" in caption
    assert "not published" not in specs["its_pd_ed_attendances"].caption  # nothing hidden there


# -- 4. data-quality appendix -----------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("name", READY)
def test_data_quality_appendix_lists_rules_that_fired(runs, name):
    evaluation, folder = runs[name]
    quality = evaluation.results["data"]["quality"]
    fired = [r for r in quality if r["rule"] != "rows_read" and r["n_rows"] not in (0, None)]
    clean = [r for r in quality if r["rule"] != "rows_read" and r["n_rows"] == 0]
    md = (folder / "report.md").read_text(encoding="utf-8")
    appendix = md.split("## Appendix: data quality", 1)[1].split("\n## ", 1)[0]
    rows = {line for line in appendix.splitlines() if line.startswith("| ")}

    def listed(r: dict) -> bool:
        rule = r["rule"].replace("_", "\\_")
        return any(line.startswith(f"| {r['extract']} | {rule} | ") for line in rows)

    assert all(listed(r) for r in fired)
    assert not [r for r in clean if listed(r)]
    assert f"Checked, nothing found: {len(clean)} rule" in appendix
    full = pd.read_csv(folder / "tables" / "data_quality.csv")
    assert len(full) == len(quality)  # the results files keep every rule


# -- 5. book tables ---------------------------------------------------------------------------------------
def test_book_table_formats_numbers_p_values_and_booleans():
    assert format_p(8.4624e-05) == "< 0.001"
    assert format_p(0.0123) == "0.012"
    assert format_number(8.4624e-05) == "0.000085"
    assert format_number(-1.23456e-07) == "-0.00000012"
    assert format_number(0.5) == "0.500"
    assert format_number(123456.789, 1) == "123,456.8"
    assert format_number(False) == "no"
    table = pd.DataFrame(
        {"term": ["level_change"], "estimate": [-0.16251893], "p_value": [8.4624e-05], "significant": [True]}
    )
    html = book_table(table).to_html()
    assert "e-0" not in html and "True" not in html
    assert "&lt; 0.001" in html and ">yes<" in html and ">-0.163<" in html
    assert table["p_value"].iloc[0] == 8.4624e-05  # input not modified


def test_book_pages_show_result_tables_through_book_table():
    """A code cell's last line that displays a table of estimates (p-values, significance flags) goes
    through book_table; .style.format(precision=...) is not used for such tables."""
    problems = []
    for page in sorted(BOOK.rglob("*.md")):
        if "_build" in page.parts or "reports" in page.parts:
            continue
        text = page.read_text(encoding="utf-8")
        for cell in re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", text, flags=re.S):
            last = cell.rstrip().splitlines()[-1] if cell.strip() else ""
            shows = re.search(r"p_value|significant", last) and "=" not in last
            if shows and not last.startswith(("book_table(", "assert", "print", "glue", "ax.", "plt.")):
                problems.append(f"{page.relative_to(ROOT)}: {last}")
    assert not problems, "\n".join(problems)


# -- 6. no internal references; downloads -----------------------------------------------------------------
INTERNAL = re.compile(r"shared/specs|specs/|research notes|research-notes|/work/shared|\.\./shared", re.I)


def _published_sources() -> list[Path]:
    files = [
        p
        for p in BOOK.rglob("*")
        if p.is_file()
        and "_build" not in p.parts
        and "_outputs" not in p.parts
        and p.suffix in {".md", ".yml", ".bib", ".py", ".txt"}
    ]
    files += [p for p in (ROOT / "evaltoolkit").rglob("*") if p.is_file() and p.suffix in {".py", ".yaml"}]
    built = BOOK / "_build" / "html"
    if built.is_dir():
        files += [p for p in built.rglob("*.html")]
    return files


def test_published_book_and_docstrings_cite_no_internal_files():
    hits = []
    for path in _published_sources():
        for k, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if INTERNAL.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{k}: {line.strip()[:100]}")
    assert not hits, "\n".join(hits)


def test_book_pages_offer_protocol_data_and_results_for_download():
    for name in READY:
        page_path = BOOK / "reports" / f"{name}.md"
        page = page_path.read_text(encoding="utf-8")
        targets = re.findall(r"\{download\}`[^<`]*<([^>]+)>`", page)
        assert f"../../protocols/{name}.yaml" in targets
        sources = _yaml(name)["data"]["sources"]
        for src in sources.values():
            assert f"../../synthetic_data/{src['file']}" in targets
        assert f"_outputs/{name}_results.zip" in targets
        for t in targets:
            if not t.startswith("_outputs/"):
                assert (page_path.parent / t).is_file(), t
        assert f'shutil.make_archive("_outputs/{name}_results", "zip", "_outputs/{name}")' in page
    assert "book/reports/_outputs/" in (ROOT / ".gitignore").read_text(encoding="utf-8")
    assert "**/_outputs" in (BOOK / "_config.yml").read_text(encoding="utf-8")
