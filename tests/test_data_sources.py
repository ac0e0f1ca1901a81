"""Reading real extracts: encodings, delimiters, title rows, empty files, sheets, several files, presets."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from evaltoolkit.cli import app
from evaltoolkit.data import item_columns, load_source, parse_item_map, read_extract, read_source, read_table
from evaltoolkit.errors import ColumnMappingError, ExtractValidationError


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


# -- encoding -----------------------------------------------------------------------------------------
def test_latin1_file_is_a_named_error_offering_cp1252(tmp_path: Path) -> None:
    path = write(tmp_path / "spells.csv", "spell_id,ward\ns1,A\ns2,Caf\u00e9 ward\n", "cp1252")
    with pytest.raises(ExtractValidationError) as info:
        read_table(path, advice="protocol:spells")
    text = str(info.value)
    assert "spells.csv" in text and "byte 0xe9" in text and "(row 3)" in text
    assert "data.sources.spells.encoding: cp1252" in text and "CSV UTF-8" in text
    with pytest.raises(ExtractValidationError, match="--encoding cp1252"):
        read_table(path, advice="cli")
    df = read_table(path, encoding="cp1252")
    assert df["ward"].tolist() == ["A", "Caf\u00e9 ward"]


def test_utf8_with_byte_order_mark(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "\ufeffsite,n\nA,1\n")
    assert read_table(path).columns.tolist() == ["site", "n", "source_row"]


# -- delimiters -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_delimiter_is_detected(tmp_path: Path, sep: str) -> None:
    path = write(tmp_path / "pop.csv", sep.join(["site", "period", "population"]) + "\nA" + sep + "2023-01-01"
                 + sep + "5,5\n")  # fmt: skip
    df = read_table(path)
    assert df.columns.tolist() == ["site", "period", "population", "source_row"]
    assert df.loc[0, "population"] == "5,5"


def test_semicolon_file_is_not_reported_as_missing_columns(tmp_path: Path) -> None:
    path = write(tmp_path / "population.csv", "site;period;population\nA;2023-01-01;500\n")
    df = read_extract(path, "population")
    assert df["population"].tolist() == [500]


def test_explicit_delimiter_and_named_tab(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "a\tb\n1\t2\n")
    assert read_table(path, delimiter="tab")["b"].tolist() == ["2"]
    with pytest.raises(ExtractValidationError, match="delimiter must be one character"):
        read_table(path, delimiter="space-ish")


# -- header rows, empty files, duplicated names ---------------------------------------------------------
def test_title_row_is_a_header_problem_suggesting_header_row(tmp_path: Path) -> None:
    path = write(
        tmp_path / "att.csv", "Trust ED extract April 2023,,\n,,\nid,site,arrival\na1,A,2023-01-01\n"
    )
    with pytest.raises(ExtractValidationError) as info:
        read_table(path, advice="protocol:attendances")
    text = str(info.value)
    assert (
        "att.csv" in text and "row 1 looks like a title" in text and "'Trust ED extract April 2023'" in text
    )
    assert "data.sources.attendances.header_row: 3" in text
    df = read_table(path, header_row=3)
    assert df.columns.tolist() == ["id", "site", "arrival", "source_row"]
    assert df["source_row"].tolist() == [4]


def test_title_row_on_its_own_line_without_commas(tmp_path: Path) -> None:
    path = write(tmp_path / "att.csv", "Extract for the evaluation\nid,site,arrival\na1,A,2023-01-01\n")
    with pytest.raises(ExtractValidationError, match=r"header_row=2"):
        read_table(path)


def test_empty_and_header_only_files_are_named_errors(tmp_path: Path) -> None:
    with pytest.raises(ExtractValidationError, match=r"empty\.csv: the file is empty \(0 bytes\)"):
        read_table(write(tmp_path / "empty.csv", ""))
    with pytest.raises(
        ExtractValidationError, match=r"head\.csv: is empty: it has a header \(row 1\) but no data rows"
    ):
        read_table(write(tmp_path / "head.csv", "site,period\n\n"))
    with pytest.raises(ExtractValidationError, match=r"blank\.csv: is empty: no header row"):
        read_table(write(tmp_path / "blank.csv", "\n\n"))


def test_duplicated_header_names_are_an_error_not_renamed(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "id,site,site\n1,A,B\n")
    with pytest.raises(ExtractValidationError) as info:
        read_table(path)
    assert "names the column 'site' twice (columns B and C)" in str(info.value)
    assert "site.1" not in str(info.value)


def test_extra_values_beyond_the_header_are_reported(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "id,site\n1,A\n2,B,extra\n")
    with pytest.raises(ExtractValidationError, match=r"rows 3 have more values than the header"):
        read_table(path)


# -- Excel sheets -----------------------------------------------------------------------------------------
@pytest.fixture()
def workbook(tmp_path: Path) -> Path:
    path = tmp_path / "rom.xlsx"
    with pd.ExcelWriter(path) as w:
        for name, score in (("Session 1", 1), ("Session 2", 2)):
            pd.DataFrame([["Questionnaire returns", None], [None, None]]).to_excel(
                w, sheet_name=name, header=False, index=False
            )
            pd.DataFrame({"ID": ["p1", "p2"], "Q1": [score, score + 1]}).to_excel(
                w, sheet_name=name, index=False, startrow=2
            )
    return path


def test_missing_sheet_lists_the_sheets(workbook: Path) -> None:
    with pytest.raises(ExtractValidationError) as info:
        read_table(workbook, sheet="Session 3", header_row=3, advice="protocol:rom_responses")
    text = str(info.value)
    assert "rom.xlsx: has no sheet 'Session 3'" in text and "'Session 1', 'Session 2'" in text
    assert "data.sources.rom_responses.sheet" in text
    with pytest.raises(ExtractValidationError, match=r"no sheet at position 3 \(sheets are counted from 1"):
        read_table(workbook, sheet=3, header_row=3)


def test_sheets_by_position_and_stacked_with_their_name(workbook: Path) -> None:
    second = read_table(workbook, sheet=2, header_row=3)
    assert second["Q1"].tolist() == [2, 3] and second["source_row"].tolist() == [4, 5]
    both = read_table(workbook, sheet="*", header_row=3, sheet_column="occasion")
    assert both["occasion"].tolist() == ["Session 1", "Session 1", "Session 2", "Session 2"]
    assert both["Q1"].tolist() == [1, 2, 2, 3]
    listed = read_table(workbook, sheet=["Session 2", 1], header_row=3, sheet_column="occasion")
    assert listed["occasion"].tolist() == ["Session 2", "Session 2", "Session 1", "Session 1"]


def test_title_rows_in_a_sheet_suggest_header_row(workbook: Path) -> None:
    with pytest.raises(
        ExtractValidationError, match=r"sheet 'Session 1': row 1 looks like a title.*header_row=3"
    ):
        read_table(workbook)


# -- several files, presets, item maps (read_source / load_source) ----------------------------------------


POP_HEADER = "site,period,population\n"


def test_several_files_are_stacked_and_repeats_across_files_counted(tmp_path: Path) -> None:
    write(tmp_path / "pop_2023.csv", POP_HEADER + "A,2023-01-01,500\nA,2023-02-01,501\n")
    write(tmp_path / "pop_2024.csv", POP_HEADER + "A,2023-02-01,501\nA,2024-01-01,510\nA,2024-01-01,510\n")
    clean = load_source("population", {"file": ["pop_2023.csv", "pop_2024.csv"]}, tmp_path)
    q = clean.quality.set_index("rule")
    assert clean.n_input == 5 and clean.n_output == 3
    assert int(q.loc["duplicate_across_files", "n_excluded"]) == 1
    assert q.loc["duplicate_across_files", "rows"] == "pop_2024.csv rows 2"
    assert int(q.loc["exact_duplicate", "n_excluded"]) == 1  # repeated inside one file
    assert clean.n_input == clean.n_output + int(q["n_excluded"].sum())
    assert clean.data["source_file"].tolist() == ["pop_2023.csv", "pop_2023.csv", "pop_2024.csv"]
    globbed = load_source("population", {"file": "pop_*.csv"}, tmp_path)
    assert [p.name for p in globbed.files] == ["pop_2023.csv", "pop_2024.csv"]


def test_ecds_preset_maps_published_names_and_joins_date_and_time(tmp_path: Path) -> None:
    text = (
        "EC_Ident,Der_Pseudo_NHS_Number,Der_Provider_Site_Code,Arrival_Date,Arrival_Time,EC_Departure_Date,"
        "EC_Departure_Time,Local_Site\n"
        "e1,p1,RA1,2023-01-05,10:30,2023-01-05,14:00,X1\n"
    )
    write(tmp_path / "ecds.csv", text)
    got = read_source("attendances", {"file": "ecds.csv", "preset": "ecds"}, tmp_path)
    row = got.data.iloc[0]
    assert (row["attendance_id"], row["patient_id"], row["site"]) == ("e1", "p1", "RA1")
    assert str(row["arrival"]) == "2023-01-05 10:30:00" and str(row["departure"]) == "2023-01-05 14:00:00"
    # your own keys win over the preset's
    mine = read_source(
        "attendances", {"file": "ecds.csv", "preset": "ecds", "columns": {"Local_Site": "site"}}, tmp_path
    )
    assert mine.data.loc[0, "site"] == "X1" and "Der_Provider_Site_Code" in mine.data.columns


def test_hes_preset_admission_method_codes(tmp_path: Path) -> None:
    text = (
        "PROVSPNOPS,TOKEN_PERSON_ID,PROCODE,ADMIDATE,DISDATE,ADMIMETH\ns1,p1,RA1,2023-01-05,2023-01-09,21\n"
    )
    write(tmp_path / "hes.csv", text + "s2,p2,RA1,2023-02-05,,11\n")
    data = read_source("spells", {"file": "hes.csv", "preset": "hes_apc"}, tmp_path).data
    assert data["admission_method"].tolist() == ["emergency", "elective"]
    assert str(data.loc[0, "admitted"]) == "2023-01-05 00:00:00"


def test_preset_for_another_extract_is_a_named_error(tmp_path: Path) -> None:
    write(tmp_path / "x.csv", "a\n1\n")
    with pytest.raises(ValueError, match=r"preset 'ecds' is for the attendances extract, not spells"):
        read_source("spells", {"file": "x.csv", "preset": "ecds"}, tmp_path)


def test_item_map_pattern_and_explicit() -> None:
    assert item_columns({"Q{n}": "core10_{n}"}, ["ID", "Q1", "Q02", "Q10"]) == {
        "Q1": "core10_1",
        "Q02": "core10_2",
        "Q10": "core10_10",
    }
    with pytest.raises(ColumnMappingError, match=r"'Q11', which is not in the file \(did you mean 'Q1'\?\)"):
        item_columns({"Q11": "core10_11"}, ["Q1"])
    with pytest.raises(ColumnMappingError, match=r"write \{n\} on both sides"):
        item_columns({"Q{n}": "core10_1"}, ["Q1"])
    with pytest.raises(ColumnMappingError, match=r"must be 'your column=item column'"):
        parse_item_map("Q1:core10_1")


def test_where_filter_is_counted_in_load_source(tmp_path: Path) -> None:
    write(tmp_path / "c.csv", "patient_id,site,index_date,team\np1,A,2023-01-01,PD\np2,A,2023-01-02,GEN\n")
    clean = load_source("cohort", {"file": "c.csv", "where": {"team": "PD"}}, tmp_path)
    q = clean.quality.set_index("rule")
    assert (clean.n_input, clean.n_output, int(q.loc["where_filter", "n_excluded"])) == (2, 1, 1)


# -- the score command --------------------------------------------------------------------------------------
def test_score_item_map_option(tmp_path: Path) -> None:
    rows = ["ID," + ",".join(f"Q{i}" for i in range(1, 11)), "p1," + ",".join(["2"] * 10)]
    src = write(tmp_path / "core.csv", "\n".join(rows) + "\n")
    out = tmp_path / "scores.csv"
    done = CliRunner().invoke(
        app, ["score", str(src), "-i", "core10", "--out", str(out), "--item-map", "Q{n}=core10_{n}"]
    )
    assert done.exit_code == 0, done.output
    scored = pd.read_csv(out)
    assert scored.loc[0, "total"] == 20  # 10 items x 2
    assert scored.loc[0, "ID"] == "p1"


def test_score_encoding_error_offers_the_cli_option(tmp_path: Path) -> None:
    src = write(tmp_path / "core.csv", "ID,core10_1\nJos\u00e9,2\n", "cp1252")
    done = CliRunner().invoke(app, ["score", str(src), "-i", "core10", "--out", str(tmp_path / "o.csv")])
    assert done.exit_code == 1
    assert "core.csv" in done.output and "(row 2)" in done.output and "--encoding cp1252" in done.output


# -- protocols: paths, keys, advice --------------------------------------------------------------------------
TRUST = Path(__file__).parent / "fixtures" / "trust"


def _trust_protocol(tmp_path: Path, **data_changes: object) -> Path:
    """The trust protocol copied to tmp_path/p/, its data folder ../trust (a copy of the fixture)."""
    import shutil

    shutil.copytree(TRUST, tmp_path / "trust", ignore=shutil.ignore_patterns("*.py", "*.yaml"))
    raw = yaml.safe_load((TRUST / "trust_protocol.yaml").read_text(encoding="utf-8"))
    raw["data"]["folder"] = "../trust"
    raw["data"].update(data_changes)
    (tmp_path / "p").mkdir()
    path = tmp_path / "p" / "protocol.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def test_protocol_paths_may_not_leave_the_protocol_folder_unless_allowed(tmp_path: Path) -> None:
    from evaltoolkit.protocol import validate_protocol

    path = _trust_protocol(tmp_path)
    problems = {p.path: p.message for p in validate_protocol(path)}
    assert "lies outside the protocol's folder" in problems["data.folder"]
    assert "data.allow_outside_folder: true" in problems["data.folder"]
    allowed = _trust_protocol(tmp_path / "ok", allow_outside_folder=True)
    assert validate_protocol(allowed) == []


def test_a_source_file_may_not_leave_data_folder(tmp_path: Path) -> None:
    from evaltoolkit.protocol import validate_protocol

    raw = yaml.safe_load((TRUST / "trust_protocol.yaml").read_text(encoding="utf-8"))
    raw["data"]["sources"]["spells"]["file"] = "../../secrets/spells.csv"
    problems = [
        p.message for p in validate_protocol(raw, base_dir=TRUST) if p.path == "data.sources.spells.file"
    ]
    assert any("'../../secrets/spells.csv' lies outside data.folder" in m for m in problems), problems


def test_protocol_key_mistakes_are_reported_with_their_path() -> None:
    from evaltoolkit.protocol import validate_protocol

    raw = yaml.safe_load((TRUST / "trust_protocol.yaml").read_text(encoding="utf-8"))
    src = raw["data"]["sources"]
    src["spells"]["preset"] = "ecds"
    src["rom_responses"]["item_map"] = {"Q{n}": "core10_1"}
    src["attendances"]["date_format"] = {"arrivl": "%d/%m/%Y"}
    src["attendances"]["file"] = "ed_*.xlsx"
    problems = {p.path: p.message for p in validate_protocol(raw, base_dir=TRUST)}
    assert "is for the attendances extract, not spells" in problems["data.sources.spells.preset"]
    assert "write {n} on both sides" in problems["data.sources.rom_responses.item_map.Q{n}"]
    assert (
        "'arrivl' is not a canonical attendances column"
        in problems["data.sources.attendances.date_format.arrivl"]
    )
    assert "no file matches 'ed_*.xlsx'" in problems["data.sources.attendances.file"]


def test_reading_problems_name_the_protocol_key(tmp_path: Path) -> None:
    from evaltoolkit.protocol import load_protocol
    from evaltoolkit.report._data import load_data

    path = _trust_protocol(tmp_path, allow_outside_folder=True)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["data"]["sources"]["rom_responses"]["sheet"] = "Session 9"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    with pytest.raises(ExtractValidationError) as info:
        load_data(load_protocol(path))
    text = str(info.value)
    assert (
        "core10_returns.xlsx: has no sheet 'Session 9'" in text
        and "'Baseline', 'Session 4', 'Session 8'" in text
    )
    assert "data.sources.rom_responses.sheet" in text
    spells = tmp_path / "trust" / "inpatient_spells.csv"
    spells.write_bytes(spells.read_bytes().replace(b"SIPU", "S\u00cfPU".encode("cp1252")))
    raw["data"]["sources"]["rom_responses"]["sheet"] = "*"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    done = CliRunner().invoke(app, ["validate", str(path)])
    assert done.exit_code == 1
    assert "inpatient_spells.csv" in done.output and "data.sources.spells.encoding: cp1252" in done.output


def test_spells_without_a_pd_flag_say_pd_spells_are_inferred(tmp_path: Path) -> None:
    from evaltoolkit.protocol import load_protocol
    from evaltoolkit.report._data import load_data

    path = _trust_protocol(tmp_path, allow_outside_folder=True)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    del raw["data"]["sources"]["spells"]["columns"]["PD"]
    del raw["data"]["sources"]["spells"]["values"]["pd_flag"]
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    loaded = load_data(load_protocol(path))
    assert "pd_flag" not in loaded.extracts["spells"].data.columns
    [typed] = loaded.notes  # counts in the note are published with everything else (one pass)
    from evaltoolkit.disclosure.deferred import publish_results

    note = publish_results(typed, "nhs")
    assert "no personality-disorder flag" in note and "pd_admissions, pd_bed_days" in note
    assert "data.sources.spells.columns" in note
    from evaltoolkit.report._summary import limitations

    flagged = limitations({"data": {"inputs": [], "notes": [note]}, "suppression": {"rule": "nhs"}})
    assert [x["text"] for x in flagged if x["id"] == "data_note"] == [note]  # a limitation in the report


def test_validate_folder_reading_options(tmp_path: Path) -> None:
    write(tmp_path / "population.csv", "site;period;population\nA;01/01/2023;500\nA;01/02/2023;510\n")
    runner = CliRunner()
    done = runner.invoke(app, ["validate", str(tmp_path)])
    assert done.exit_code == 1 and "unparseable period" in " ".join(done.output.split())
    done = runner.invoke(app, ["validate", str(tmp_path), "--date-format", "%d/%m/%Y"])
    assert done.exit_code == 0, done.output
    assert "population (population.csv): ok" in done.output
    latin = write(tmp_path / "cohort.csv", "patient_id,site,index_date\nJos\u00e9,A,2023-01-01\n", "cp1252")
    done = runner.invoke(app, ["validate", str(tmp_path), "--date-format", "%d/%m/%Y"])
    assert done.exit_code == 1 and latin.name in done.output and "--encoding cp1252" in done.output


def test_unquoted_codes_in_value_maps_and_aliases() -> None:
    from evaltoolkit.protocol import validate_protocol

    raw = yaml.safe_load((TRUST / "trust_protocol.yaml").read_text(encoding="utf-8"))
    raw["data"]["sources"]["spells"]["values"]["admission_method"] = yaml.safe_load(
        "{21: emergency, 11: elective}"
    )
    raw["data"]["sources"]["spells"]["site_aliases"]["RX102"] = [102]
    assert validate_protocol(raw, base_dir=TRUST, check_files=False) == []
    raw["data"]["sources"]["spells"]["values"]["pd_flag"] = yaml.safe_load("{yes: true, no: false}")
    problems = {p.path: p.message for p in validate_protocol(raw, base_dir=TRUST, check_files=False)}
    assert "pd_flag: quote the value True" in problems["data.sources.spells.values"]


def test_files_named_by_kind_are_found_in_any_case(tmp_path: Path) -> None:
    from evaltoolkit.data import find_extract_files

    write(tmp_path / "Population.CSV", POP_HEADER + "A,2023-01-01,5\n")
    write(tmp_path / "notes.txt", "x")
    assert {k: p.name for k, p in find_extract_files(tmp_path).items()} == {"population": "Population.CSV"}


def test_files_and_sheets_with_different_columns_are_recorded(tmp_path: Path) -> None:
    write(tmp_path / "c1.csv", "patient_id,site,index_date,team\np1,A,2023-01-01,PD\n")
    write(tmp_path / "c2.csv", "patient_id,site,index_date\np2,A,2023-01-02\np3,A,2023-01-03\n")
    clean = load_source("cohort", {"file": "c*.csv"}, tmp_path)
    q = clean.quality.set_index("rule")
    assert int(q.loc["columns_differ", "n_rows"]) == 2
    assert "c2.csv has no team" in q.loc["columns_differ", "detail"]
    book = tmp_path / "s.xlsx"
    with pd.ExcelWriter(book) as w:
        pd.DataFrame({"patient_id": ["p1"], "site": ["A"], "index_date": ["2023-01-01"]}).to_excel(
            w, sheet_name="One", index=False
        )
        pd.DataFrame({"patient_id": ["p2"], "site": ["A"], "index_date": ["2023-01-02"], "x": [1]}).to_excel(
            w, sheet_name="Two", index=False
        )
    clean = load_source("cohort", {"file": "s.xlsx", "sheet": "*"}, tmp_path)
    detail = clean.quality.set_index("rule").loc["columns_differ", "detail"]
    assert "s.xlsx sheet 'One' has no x" in detail


def test_sheet_option_on_a_csv_names_the_protocol_key(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "a\n1\n")
    with pytest.raises(
        ExtractValidationError, match=r"data\.sources\.cohort\.sheet applies to \.xlsx files only"
    ):
        read_table(path, sheet="One", advice="protocol:cohort")


def test_errors_on_stacked_files_say_which_file_holds_the_row(tmp_path: Path) -> None:
    write(tmp_path / "c1.csv", "patient_id,site,index_date\np1,A,2023-01-01\n")
    write(tmp_path / "c2.csv", "patient_id,site,index_date\np2,A,2023-01-02\np3,A,not a date\n")
    with pytest.raises(ExtractValidationError) as info:
        load_source("cohort", {"file": ["c1.csv", "c2.csv"]}, tmp_path)
    assert "index_date" in str(info.value) and "row 3: c2.csv" in str(info.value)


def test_timezone_conversions_are_counted(tmp_path: Path) -> None:
    text = "attendance_id,patient_id,site,arrival,departure\n"
    text += "a1,p1,A,2023-07-01T10:00:00+01:00,2023-07-01T12:00:00+01:00\n"
    text += "a2,p2,A,2023-07-01 11:00,2023-07-01 13:00\n"
    write(tmp_path / "att.csv", text)
    clean = load_source("attendances", {"file": "att.csv", "timezone": "Europe/London"}, tmp_path)
    q = clean.quality.set_index("rule")
    assert int(q.loc["timezone_converted", "n_rows"]) == 2  # arrival and departure of a1
    assert str(clean.data.loc[0, "arrival"]) == "2023-07-01 10:00:00"  # BST wall time kept


def test_on_invalid_key_excludes_and_counts_and_the_advice_names_it(tmp_path: Path) -> None:
    from evaltoolkit.protocol import load_protocol
    from evaltoolkit.report._data import load_data

    path = _trust_protocol(tmp_path, allow_outside_folder=True)
    spells = tmp_path / "trust" / "inpatient_spells.csv"
    lines = spells.read_text(encoding="utf-8").splitlines()
    lines[5] = lines[5].replace(lines[5].split(",")[3], "31/31/2023")  # row 6: an impossible admission date
    spells.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ExtractValidationError) as info:
        load_data(load_protocol(path))
    assert "admitted" in str(info.value) and "data.sources.spells.on_invalid: exclude" in str(info.value)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["data"]["sources"]["spells"]["on_invalid"] = "exclude"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    loaded = load_data(load_protocol(path))
    q = loaded.quality[loaded.quality["extract"] == "spells"].set_index("rule")
    assert int(q.loc["unparseable", "n_excluded"]) == 1
    ex = loaded.extracts["spells"]
    assert ex.n_input == ex.n_output + int(q["n_excluded"].sum())


def test_every_data_source_key_is_documented() -> None:
    import re

    from evaltoolkit.data import SOURCE_KEYS
    from evaltoolkit.protocol import DataSource

    root = Path(__file__).parents[1]
    table = (root / "protocols" / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", table, flags=re.MULTILINE))
    assert set(DataSource.model_fields) == set(SOURCE_KEYS)
    assert set(DataSource.model_fields) <= documented, set(DataSource.model_fields) - documented
    page = (root / "book" / "howto" / "trust_extract.md").read_text(encoding="utf-8")
    assert all(f"`{key}`" in page for key in DataSource.model_fields if key != "on_invalid")
