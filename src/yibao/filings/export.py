"""The active registry as files for the settlement system: CSV (UTF-8 with BOM) and Excel."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date
from typing import IO, Any

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


CSV_CHUNK_ROWS = 1000


def csv_chunks(rows: Iterable[tuple[Any, ...]]) -> Iterator[bytes]:
    """CSV with a Chinese header, in chunks of encoded bytes (a stream: the BOM lets Excel
    read the UTF-8 correctly)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    buf.write("\ufeff")
    writer.writerow(EXPORT_HEADER)
    for n, row in enumerate(rows, 1):
        writer.writerow([_cell(v) for v in row])
        if n % CSV_CHUNK_ROWS == 0:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode("utf-8")


def to_csv(rows: Iterable[tuple[Any, ...]]) -> bytes:
    """The whole CSV at once (small exports and tests)."""
    return b"".join(csv_chunks(rows))


def to_xlsx(rows: Iterable[tuple[Any, ...]]) -> bytes:
    """The whole workbook at once (small exports and tests)."""
    out = io.BytesIO()
    write_xlsx(rows, out)
    return out.getvalue()


def write_xlsx(rows: Iterable[tuple[Any, ...]], target: IO[bytes]) -> None:
    """One sheet, a bold header row, ID numbers and codes as text, dates as dates.

    A write-only workbook keeps rows on disk as they come, so memory stays flat; only the two
    date columns need a styled cell (plain strings stay text in Excel without one).
    """
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
                cells.append(_cell(str(value)))
            elif isinstance(value, date):
                cell = WriteOnlyCell(ws, value=value)
                cell.number_format = "yyyy-mm-dd"
                cells.append(cell)
            else:
                cells.append(_cell(value))
        ws.append(cells)
    wb.save(target)
