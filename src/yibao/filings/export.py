"""The active registry as files for the settlement system: CSV (UTF-8 with BOM) and Excel."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from yibao.filings.service import EXPORT_HEADER

# Columns kept as text in Excel: long digit strings (ID numbers, codes) must not become numbers.
_TEXT_COLUMNS = frozenset({0, 1, 3, 5, 6, 8, 15})


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value  # never a formula when a spreadsheet opens the file
    return value


def to_csv(rows: Iterable[tuple[Any, ...]]) -> bytes:
    """CSV with a Chinese header; the BOM lets Excel read the UTF-8 correctly."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(EXPORT_HEADER)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(rows: Iterable[tuple[Any, ...]]) -> bytes:
    """One sheet, a bold header row, ID numbers and codes as text, dates as dates."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("异地就医备案")
    widths = (20, 21, 10, 14, 18, 18, 10, 14, 10, 16, 12, 12, 10, 24, 18, 18, 17)
    for i, width in enumerate(widths):
        ws.column_dimensions[chr(ord("A") + i)].width = width
    ws.freeze_panes = "A2"
    header = []
    for title in EXPORT_HEADER:
        cell = WriteOnlyCell(ws, value=title)
        cell.font = Font(bold=True)
        header.append(cell)
    ws.append(header)
    for row in rows:
        cells: list[Any] = []
        for i, value in enumerate(row):
            if value is None:
                cells.append(None)
            elif i in _TEXT_COLUMNS:
                cell = WriteOnlyCell(ws, value=str(value))
                cell.number_format = "@"
                cells.append(cell)
            elif isinstance(value, date):
                cell = WriteOnlyCell(ws, value=value)
                cell.number_format = "yyyy-mm-dd"
                cells.append(cell)
            else:
                cells.append(value)
        ws.append(cells)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
