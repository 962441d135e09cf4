"""Checking an agency's audit chain in the database: every hash, every link, every checkpoint.

The walk (``audit.walk``) reads the records in sequence order in batches straight from the
DBAPI cursor and hashes each; at the first record that fails it stops and names what happened
there (``chain.diagnose``). Checkpoints are checked against the hashes it recomputed and
against their signatures.

A long chain is walked in stretches side by side (``audit.stretches``), and again in one piece
here if anything in it is broken, so a report of tampering is always the one a single walk
gives.

With partners configured, a checkpoint carries a partner's countersignature
(``audit.witness``): it must verify with that partner's public key over the checkpoint as
stored, or the checkpoint was changed after the partner saw it. A checkpoint sent for
countersigning that has none a day later (the relay's dead-letter horizon) is reported too.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from yibao.audit import chain
from yibao.audit.stretches import dsn_of, in_stretches, worker_count
from yibao.audit.walk import Progress, Reader, Walked, walk
from yibao.db import Database

COUNTERSIGN_GRACE = timedelta(hours=24)  # the relay gives up on a message after a day

PROBLEMS: dict[str, tuple[str, str]] = {
    # code: (English, Chinese) — {seq} is the first bad sequence number, {head} the head's.
    "edited": (
        "audit chain broken at seq {seq}: record edited (hash mismatch)",
        "审计链在第{seq}条被篡改：记录被修改（哈希不符）",
    ),
    "deleted": (
        "audit chain broken at seq {seq}: record deleted (gap in the sequence)",
        "审计链在第{seq}条被篡改：记录被删除（序号缺失）",
    ),
    "inserted": (
        "audit chain broken at seq {seq}: record inserted",
        "审计链在第{seq}条被篡改：记录被插入",
    ),
    "reordered": (
        "audit chain broken at seq {seq}: records reordered",
        "审计链在第{seq}条被篡改：记录顺序被改动",
    ),
    "truncated": (
        "audit chain broken at seq {seq}: chain truncated (the head says seq {head})",
        "审计链在第{seq}条被截断（链头记录为第{head}条）",
    ),
    "checkpoint_mismatch": (
        "audit chain broken at seq {seq}: the signed checkpoint at seq {seq} does not match "
        "the chain (records up to it were rewritten)",
        "审计链在第{seq}条与已签名的检查点不符（此前的记录被改写）",
    ),
    "checkpoint_signature": (
        "audit checkpoint at seq {seq}: signature does not verify",
        "第{seq}条处的审计检查点签名无效",
    ),
    "countersignature_invalid": (
        "audit checkpoint at seq {seq}: partner {partner}'s countersignature does not verify "
        "(the checkpoint was changed after the partner signed it)",
        "第{seq}条处的审计检查点与伙伴机构{partner}的会签不符（检查点在会签后被改动）",
    ),
    "countersignature_missing": (
        "audit checkpoint at seq {seq}: sent to partner {partner} for countersigning more than "
        "a day ago, and no countersignature is stored",
        "第{seq}条处的审计检查点已发往伙伴机构{partner}会签超过一天，未存有会签",
    ),
}


@dataclass
class VerifyReport:
    """The outcome of one walk of an agency's chain."""

    ok: bool
    agency: str
    checked: int
    head_seq: int
    first_bad_seq: int | None = None
    problem: str | None = None
    message: str = ""
    message_zh: str = ""
    checkpoints_checked: int = 0
    countersigned: int = 0  # checkpoints with a partner's countersignature that verifies
    countersign_pending: list[int] = field(default_factory=list)  # sent, none back yet (seq)
    anchor_seq: int = 0  # records up to here were archived and purged
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return asdict(self)


def _fail(report: VerifyReport, seq: int, problem: str, partner: str = "") -> None:
    en, zh = PROBLEMS[problem]
    report.ok = False
    report.first_bad_seq, report.problem = seq, problem
    report.message = en.format(seq=seq, head=report.head_seq, partner=partner)
    report.message_zh = zh.format(seq=seq, head=report.head_seq, partner=partner)
    if partner:
        report.details["partner"] = partner


def _verify_signature(
    keys: Mapping[str, ed25519.Ed25519PublicKey], cp: tuple[Any, ...], agency: str
) -> bool:
    from yibao.audit.checkpoints import signature_valid

    _id, seq, head_hash, at_raw, key_id, signature = cp[:6]
    return signature_valid(keys, key_id, signature, agency, seq, head_hash, at_raw)


def verify_chain(
    db: Database,
    agency: str,
    *,
    batch: int = 5000,
    progress: Progress | None = None,
    keys: Mapping[str, ed25519.Ed25519PublicKey] | None = None,
    workers: int | None = None,
    partners: Mapping[str, ed25519.Ed25519PublicKey] | None = None,
    now: datetime | None = None,
) -> VerifyReport:
    """Walk ``agency``'s chain and its checkpoints; the report names the first bad record.

    ``keys`` are the public keys checkpoints may be signed with (by key id); by default this
    node's own (``audit.checkpoints.verification_keys``); ``partners`` the public keys of the
    partners that countersign them (by agency; by default from the peers file). ``workers``
    is how many stretches are walked side by side (1: in one piece; by default by the cores
    for a long chain, ``audit.stretches``).
    """
    if keys is None or partners is None:
        from yibao.audit.checkpoints import partner_keys, verification_keys
        from yibao.config import get_settings

        keys = verification_keys(get_settings()) if keys is None else keys
        partners = partner_keys(get_settings()) if partners is None else partners
    started = time.perf_counter()
    engine = db.engine
    if engine.dialect.name == "postgresql":
        engine = engine.execution_options(isolation_level="REPEATABLE READ")
    with engine.connect() as conn, conn.begin():
        reader = Reader(conn.connection.dbapi_connection, engine.dialect.name)
        report = _walk(
            reader,
            agency,
            batch=batch,
            progress=progress,
            keys=keys,
            workers=workers,
            dsn=dsn_of(db.engine),
        )
        countersigned = _countersignatures(
            report, reader, agency, partners, now or datetime.now(UTC)
        )
    if countersigned and (report.ok or min(countersigned)[0] < (report.first_bad_seq or 0)):
        seq, problem, partner = min(countersigned)
        _fail(report, seq, problem, partner)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _walk(
    reader: Reader,
    agency: str,
    *,
    batch: int,
    progress: Progress | None,
    keys: Mapping[str, ed25519.Ed25519PublicKey],
    workers: int | None,
    dsn: str | None,
) -> VerifyReport:
    head = reader.one("SELECT seq, hash FROM audit_heads WHERE agency = ?", agency)
    head_seq, head_hash = (int(head[0]), str(head[1])) if head else (0, chain.GENESIS)
    report = VerifyReport(ok=True, agency=agency, checked=0, head_seq=head_seq)
    first_row = reader.one("SELECT min(seq) FROM audit_records WHERE agency = ?", agency)
    first = first_row[0] if first_row and first_row[0] is not None else None
    # The anchor: the archive that ends just before the first record kept (after a purge).
    expected, prev = 1, chain.GENESIS
    archives = reader.q(
        "SELECT to_seq, to_hash FROM audit_archives WHERE agency = ? ORDER BY to_seq", agency
    )
    limit = first if first is not None else head_seq + 1
    for to_seq, to_hash in archives:
        if to_seq < limit:
            expected, prev = int(to_seq) + 1, str(to_hash)
    report.anchor_seq = expected - 1
    checkpoints = reader.q(
        "SELECT id, seq, head_hash, at, key_id, signature FROM audit_checkpoints "
        "WHERE agency = ? ORDER BY seq, id",
        agency,
    )
    wanted: dict[int, str] = {report.anchor_seq: prev}
    cp_seqs = {int(cp[1]) for cp in checkpoints}
    total = max(head_seq - report.anchor_seq, 0)
    walked: Walked | None = None
    if dsn is not None and (n := worker_count(total, workers, reader.pg)) > 1:
        joined = in_stretches(
            reader,
            agency,
            dsn,
            n,
            batch,
            cp_seqs,
            progress,
            total,
            expected=expected,
            prev=prev,
            head_hash=head_hash,
        )
        if joined is not None:
            wanted.update(joined.wanted)
            walked = joined
    if walked is None:
        walked = walk(
            reader,
            agency,
            expected=expected,
            prev=prev,
            upto=head_seq,
            batch=batch,
            cp_seqs=cp_seqs,
            wanted=wanted,
            head_hash=head_hash,
            progress=progress,
            total=total,
        )
    report.checked = walked.checked
    broken = walked.broken
    problems: list[tuple[int, str]] = [broken] if broken else []
    for cp in checkpoints:
        seq = int(cp[1])
        report.checkpoints_checked += 1
        if not _verify_signature(keys, cp, agency):
            problems.append((seq, "checkpoint_signature"))
        elif seq > head_seq:
            problems.append((head_seq + 1, "truncated"))
        elif seq in wanted and wanted[seq] != cp[2]:
            problems.append((seq, "checkpoint_mismatch"))
    if problems:
        seq, problem = min(problems)
        _fail(report, seq, problem)
    return report


def _countersignatures(
    report: VerifyReport,
    reader: Reader,
    agency: str,
    partners: Mapping[str, ed25519.Ed25519PublicKey],
    now: datetime,
) -> list[tuple[int, str, str]]:
    """Check every partner countersignature stored on a checkpoint; (seq, problem, partner)."""
    from yibao.audit.checkpoints import countersignature_valid

    rows = reader.q(
        "SELECT seq, head_hash, at, partner, partner_signature FROM audit_checkpoints "
        "WHERE agency = ? AND partner IS NOT NULL ORDER BY seq, id",
        agency,
    )
    problems: list[tuple[int, str, str]] = []
    for seq, head_hash, at, partner, countersignature in rows:
        seq, partner = int(seq), str(partner)
        if countersignature:
            valid = countersignature_valid(
                partners.get(partner),
                countersignature,
                witness=partner,
                agency=agency,
                seq=seq,
                head_hash=head_hash,
                at=at,
            )
            if valid:
                report.countersigned += 1
            else:
                problems.append((seq, "countersignature_invalid", partner))
        elif now - _moment(at) > COUNTERSIGN_GRACE:
            problems.append((seq, "countersignature_missing", partner))
        else:
            report.countersign_pending.append(seq)
    return problems


def _moment(at: datetime | str) -> datetime:
    moment = datetime.fromisoformat(at) if isinstance(at, str) else at
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
