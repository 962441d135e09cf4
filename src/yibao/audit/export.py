"""A period of the audit trail as a file for archiving: CSV (UTF-8 with BOM) or Excel.

Both are written row by row from a server-side cursor (``yield_per``), so memory stays flat
for a million records: CSV is streamed as it is read; a workbook (a zip, complete only at
the end) is written in write-only mode to a temporary file and sent from there.

A period is the contiguous run of chain positions (seq) from the first record of its first
local day to the last record of its last day, so an archive holds every link between its
ends and its file can be checked against the chain with the hashes it carries.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import IO, Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yibao.audit.models import AuditRecord
from yibao.audit.queries import column, local_bounds
from yibao.db import Database

FORMATS = ("csv", "xlsx")
BATCH = 2000
CSV_CHUNK_ROWS = 1000
XLSX_MAX_CELL = 32767  # Excel's limit for the text of one cell

RESULT_ZH = {"ok": "成功", "denied": "拒绝", "failed": "失败"}
ROLE_ZH = {
    "clerk": "窗口经办人",
    "station_master": "站长",
    "bureau_officer": "医保局经办人",
    "supervisor": "监督人员",
    "auditor": "审计管理员",
    "admin": "系统管理员",
}

# Chinese headers; every field of the chain is there (at in UTC with microseconds, detail as
# compact sorted JSON, the previous and own hash), so the file can be re-hashed.
HEADER = (
    "序号",
    "记录编号",
    "时间（北京时间）",
    "时间（UTC）",
    "机构",
    "操作人编号",
    "操作人",
    "角色",
    "角色代码",
    "单位",
    "操作",
    "对象类型",
    "对象编号",
    "结果",
    "结果代码",
    "IP地址",
    "请求编号",
    "详情",
    "前一哈希",
    "哈希",
)
_WIDTHS = (10, 10, 20, 28, 8, 10, 16, 12, 14, 8, 24, 14, 22, 6, 8, 16, 34, 50, 66, 66)


@dataclass(frozen=True)
class Period:
    """The chain positions a period of local dates covers (``key`` is seq, or id before the
    chain columns exist); ``count`` 0 means the period holds no records."""

    date_from: date
    date_to: date
    key: str
    first: int | None
    last: int | None
    count: int


def order_column() -> Any:
    """seq when the chain columns exist, else id."""
    return column("seq") or AuditRecord.id


def period(session: Session, agency: str, tz: ZoneInfo, date_from: date, date_to: date) -> Period:
    """Where the period starts and ends in the chain (one indexed scan of (agency, at))."""
    key = order_column()
    start, end = local_bounds(date_from, date_to, tz)
    row = session.execute(
        select(func.min(key), func.max(key)).where(
            AuditRecord.agency == agency, AuditRecord.at >= start, AuditRecord.at < end
        )
    ).one()
    first, last = row[0], row[1]
    count = 0
    if first is not None:
        count = (
            session.scalar(
                select(func.count()).where(AuditRecord.agency == agency, key >= first, key <= last)
            )
            or 0
        )
    return Period(date_from, date_to, key.key, first, last, count)


_FIELDS = (
    "seq",
    "id",
    "at",
    "agency",
    "actor_id",
    "actor_name",
    "role",
    "unit",
    "action",
    "object_type",
    "object_id",
    "result",
    "ip",
    "request_id",
    "detail",
    "prev_hash",
    "hash",
)


def canonical_detail(detail: Any) -> str:
    """The detail as compact JSON with sorted keys (as the chain hashes it)."""
    return json.dumps(detail or {}, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def rows(db: Database, agency: str, p: Period, tz: ZoneInfo) -> Iterator[tuple[Any, ...]]:
    """The period's records in chain order, read in batches from their own session (plain
    columns, no ORM objects: nothing accumulates in an identity map)."""
    if p.first is None or p.last is None:
        return
    key = order_column()
    cols = [c for c in (column(name) for name in _FIELDS) if c is not None]
    stmt = (
        select(*cols)
        .where(AuditRecord.agency == agency, key >= p.first, key <= p.last)
        .order_by(key)
        .execution_options(yield_per=BATCH)
    )
    with db.session() as reader:
        for row in reader.execute(stmt):
            r = row._mapping
            role = r.get("role") or ""
            result = r.get("result") or "ok"
            at = r["at"]
            yield (
                r.get("seq"),
                r["id"],
                at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"),
                at.isoformat(timespec="microseconds"),
                r["agency"],
                r["actor_id"],
                r["actor_name"],
                ROLE_ZH.get(role, role),
                role,
                r.get("unit"),
                r["action"],
                r["object_type"],
                r["object_id"],
                RESULT_ZH.get(result, result),
                result,
                r["ip"],
                r.get("request_id"),
                canonical_detail(r["detail"]),
                r.get("prev_hash"),
                r.get("hash"),
            )


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value  # never a formula when a spreadsheet opens the file
    return value


def csv_chunks(data: Iterable[tuple[Any, ...]]) -> Iterator[bytes]:
    """CSV with the Chinese header, in chunks of UTF-8 bytes; the BOM tells Excel the encoding."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    buf.write("\ufeff")
    writer.writerow(HEADER)
    for n, row in enumerate(data, 1):
        writer.writerow([_cell(v) for v in row])
        if n % CSV_CHUNK_ROWS == 0:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode("utf-8")


def _xlsx_text(value: Any) -> Any:
    value = _cell(value)
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)[:XLSX_MAX_CELL]
    return value


def write_xlsx(data: Iterable[tuple[Any, ...]], target: IO[bytes]) -> None:
    """One sheet in a write-only workbook (rows go to disk as they come), header in bold."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("审计记录")
    for i, width in enumerate(_WIDTHS):
        ws.column_dimensions[_letter(i)].width = width
    ws.freeze_panes = "A2"
    header = []
    for title in HEADER:
        cell = WriteOnlyCell(ws, value=title)
        cell.font = Font(bold=True)
        header.append(cell)
    ws.append(header)
    for row in data:
        ws.append([_xlsx_text(v) for v in row])
    wb.save(target)


def _letter(i: int) -> str:
    return chr(ord("A") + i) if i < 26 else "A" + chr(ord("A") + i - 26)


def write_file(data: Iterable[tuple[Any, ...]], fmt: str, target: IO[bytes]) -> None:
    """The whole export into ``target`` (a temporary file)."""
    if fmt == "csv":
        for chunk in csv_chunks(data):
            target.write(chunk)
    else:
        write_xlsx(data, target)


def sha256_file(path: str) -> str:
    """SHA-256 (hex) of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
