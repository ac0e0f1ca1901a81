"""Reading real extracts: encodings, delimiters, title rows, empty files, sheets, several files, presets."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from evaltoolkit.data import read_extract, read_table
from evaltoolkit.errors import ExtractValidationError


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
    with pytest.raises(ExtractValidationError, match=r"head\.csv: has a header \(row 1\) but no data rows"):
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
