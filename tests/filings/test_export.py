"""The registry files stream in chunks and never let a cell become a formula."""

from __future__ import annotations

import csv
import io
from datetime import date

import openpyxl

from yibao.filings import export
from yibao.filings.service import EXPORT_HEADER


def _rows(n: int) -> list[tuple[object, ...]]:
    row = ["x"] * len(EXPORT_HEADER)
    out = []
    for i in range(n):
        r = list(row)
        r[0] = f"BA{i:06d}"
        r[1] = "500118195304120011"
        r[2] = "=cmd|' /C calc'!A0" if i == 0 else "张三"
        r[9] = "-1+1" if i == 0 else "三亚市"
        r[10] = date(2026, 11, 1)
        r[11] = None
        out.append(tuple(r))
    return out


def test_csv_comes_in_chunks_that_join_into_one_file() -> None:
    rows = _rows(2 * export.CSV_CHUNK_ROWS + 5)
    chunks = list(export.csv_chunks(iter(rows)))
    assert len(chunks) == 3
    text = b"".join(chunks).decode("utf-8")
    assert text.count("\ufeff") == 1 and text.startswith("\ufeff")
    parsed = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert parsed[0] == list(EXPORT_HEADER)
    assert len(parsed) == len(rows) + 1
    assert parsed[-1][0] == rows[-1][0]
    assert parsed[1][2].startswith("'=") and parsed[1][9] == "'-1+1"


def test_excel_keeps_ids_as_text_dates_as_dates_and_no_formulas() -> None:
    sheet = openpyxl.load_workbook(io.BytesIO(export.to_xlsx(iter(_rows(3))))).active
    assert sheet is not None
    assert sheet["B2"].value == "500118195304120011"
    assert sheet["C2"].value.startswith("'=") and sheet["C2"].data_type != "f"
    assert sheet["J2"].value == "'-1+1"
    assert sheet["K2"].is_date and sheet["K2"].value.date() == date(2026, 11, 1)
    assert sheet.max_row == 4
