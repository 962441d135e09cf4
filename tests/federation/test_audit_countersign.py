"""A partner countersigns our audit checkpoints over the federation link, and keeps them.

Real nodes (``yibao serve`` processes): Yongchuan makes a checkpoint with ``yibao audit
checkpoint``; it travels through Yongchuan's outbox and relay to its partners, who check it,
keep it (``audit_witnessed``) and send back their countersignature, which Yongchuan stores on
the checkpoint and ``yibao audit verify`` checks. Then Yongchuan's operator rewrites history
the way only the operator can — every hash recomputed, the head moved, the checkpoint signed
again with the node's own key — and verify still names the checkpoint, because the partner's
countersignature covers the true head; the partner's copy shows that head too.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sqlite3
import subprocess
import sys
from typing import Any

import pytest
from tests.federation.conftest import JJ, LZ, YC, Cluster, wait_for

from yibao.audit import chain
from yibao.audit.checkpoints import checkpoint_text, countersign_text
from yibao.audit.walk import Reader

pytestmark = [pytest.mark.xdist_group("federation")]


def yibao(cluster: Cluster, code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``yibao ARGS`` for the node, as its operator would on its machine."""
    return subprocess.run(
        [sys.executable, "-m", "yibao.cli", *args],
        env={**os.environ, **cluster.nodes[code].env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def as_signed(at: str) -> str:
    """A checkpoint's time as SQLite holds it, written as it was signed."""
    return at.replace(" ", "T") + "+00:00"


def verify(cluster: Cluster, code: str) -> tuple[int, dict[str, Any]]:
    """``yibao audit verify --json`` on the node: (exit code, report)."""
    r = yibao(cluster, code, "audit", "verify", "--json", "--workers", "1")
    return r.returncode, json.loads(r.stdout)


def rewrite_history(cluster: Cluster, code: str, seq: int) -> str:
    """As the node's operator: edit record 1, re-hash everything after it, move the head and
    sign the checkpoint at ``seq`` again with the node's key. The new hash at ``seq``."""
    conn = sqlite3.connect(cluster.db_path(code), timeout=30, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")  # the server's writers wait meanwhile
        triggers = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name LIKE 'audit%'"
        ).fetchall()
        for name, _sql in triggers:
            conn.execute(f"DROP TRIGGER {name}")
        head = conn.execute("SELECT seq FROM audit_heads WHERE agency = ?", [code]).fetchone()[0]
        rows = Reader(conn, "sqlite").window(code, 1, head)
        rows[0]["actor_name"] = "篡改者"
        plain = [
            {k: v for k, v in r.items() if k not in ("seq", "prev_hash", "hash")} for r in rows
        ]
        for r in chain.build(plain):
            conn.execute(
                "UPDATE audit_records SET actor_name = ?, prev_hash = ?, hash = ? "
                "WHERE agency = ? AND seq = ?",
                [r["actor_name"], r["prev_hash"], r["hash"], code, r["seq"]],
            )
            if r["seq"] == seq:
                new_hash = str(r["hash"])
        conn.execute("UPDATE audit_heads SET hash = ? WHERE agency = ?", [r["hash"], code])
        (at,) = conn.execute(
            "SELECT at FROM audit_checkpoints WHERE agency = ? AND seq = ?", [code, seq]
        ).fetchone()
        signed = checkpoint_text(code, seq, new_hash, as_signed(at))
        signature = base64.b64encode(cluster.federation(code).private_key.sign(signed)).decode()
        conn.execute(
            "UPDATE audit_checkpoints SET head_hash = ?, signature = ? WHERE agency = ? AND seq = ?",
            [new_hash, signature, code, seq],
        )
        for _name, ddl in triggers:
            conn.execute(ddl)
        conn.execute("COMMIT")
    finally:
        conn.close()
    return new_hash


def test_a_partner_countersigns_keeps_and_later_exposes_a_rewritten_history(
    cluster: Cluster,
) -> None:
    cluster.ensure(YC, JJ, LZ, relay=True)
    made = yibao(cluster, YC, "audit", "checkpoint")
    assert made.returncode == 0, made.stderr
    found = re.search(r"checkpoint at seq (\d+): ([0-9a-f]{64})", made.stdout)
    assert found, made.stdout
    seq, head = int(found[1]), found[2]
    assert f"queued to {JJ}, {LZ} for countersigning" in made.stdout

    # Each partner keeps the checkpoint as it arrived, and countersigns it.
    for partner in (JJ, LZ):
        kept = wait_for(
            f"{partner} to keep {YC}'s checkpoint at seq {seq}",
            lambda p=partner: cluster.rows(  # type: ignore[misc]
                p,
                "SELECT * FROM audit_witnessed WHERE from_agency = ? AND seq = ?",
                [YC, seq],
            ),
        )
        assert kept[0]["head_hash"] == head and kept[0]["agency"] == partner
    stored = wait_for(
        f"{YC} to store a countersignature",
        lambda: cluster.rows(
            YC,
            "SELECT * FROM audit_checkpoints WHERE agency = ? AND seq = ? "
            "AND partner_signature IS NOT NULL",
            [YC, seq],
        ),
    )[0]
    partner = stored["partner"]
    assert partner in (JJ, LZ) and stored["partner_key_id"] == partner
    key = cluster.federation(YC).peers[partner].public_key
    key.verify(
        base64.b64decode(stored["partner_signature"]),
        countersign_text(partner, YC, seq, head, as_signed(stored["at"])),
    )  # raises if it does not verify

    code, report = verify(cluster, YC)
    assert code == 0 and report["ok"], report
    assert report["countersigned"] >= 1 and seq not in report["countersign_pending"]

    # The operator rewrites history consistently: only the countersignature still tells.
    forged = rewrite_history(cluster, YC, seq)
    assert forged != head
    code, report = verify(cluster, YC)
    assert code == 1 and report["problem"] == "countersignature_invalid", report
    assert report["first_bad_seq"] == seq and report["details"]["partner"] == partner
    assert (
        f"audit checkpoint at seq {seq}: partner {partner}'s countersignature"
        in (report["message"])
    )
    cli = yibao(cluster, YC, "audit", "verify", "-q")
    assert cli.returncode == 1 and f"伙伴机构{partner}的会签不符" in cli.stderr
    # The partner's copy still holds the true head, which the rewritten node no longer has.
    kept_hash = cluster.scalar(
        partner,
        "SELECT head_hash FROM audit_witnessed WHERE from_agency = ? AND seq = ?",
        [YC, seq],
    )
    assert kept_hash == head
    now_hash = cluster.scalar(
        YC, "SELECT head_hash FROM audit_checkpoints WHERE agency = ? AND seq = ?", [YC, seq]
    )
    assert now_hash == forged != kept_hash
