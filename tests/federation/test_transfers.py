"""Cross-region transfers between real nodes: ``yibao serve`` processes on loopback ports.

Each node has its own SQLite file, key and peers file; messages travel as signed HTTP
requests through the relays (or, where a test plays the relay, through ``post_signed``).
Counts are read from the SQLite files with the ``sqlite3`` module, read-only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import queue
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tests.federation.conftest import (
    JJ,
    LZ,
    YC,
    Cluster,
    step,
    uuid_hex,
    wait_for,
)

from yibao.config import Settings
from yibao.db import Database
from yibao.runtime import Runtime
from yibao.transfers import demo as fd
from yibao.transfers.relay import DEAD_AFTER, PATH, deliver_due
from yibao.transfers.signing import sign_request

pytestmark = [pytest.mark.xdist_group("federation")]

PERIODS = fd.PERIODS
PROBLEM = "application/problem+json"
OUT_STEPS = [(1, "eligibility"), (2, "info_table"), (3, "funds_remitted")]


def open_transfer(cluster: Cluster, inn: str, out: str, n: int | None = None) -> dict[str, Any]:
    """A person applies at the in-agency ``inn``; its officer starts the transfer there."""
    officer = cluster.officer(inn)
    case_no = officer.intake(cluster.person() if n is None else n)
    return officer.start(case_no, out, "in")


def accept_and_remit(cluster: Cluster, out: str, tid: str, balance: int, ref: str) -> None:
    """The out-agency's three steps once the letter is there."""
    cluster.wait_state(out, tid, "checking")
    officer = cluster.officer(out)
    step(officer, tid, "eligibility", {"accepted": True})
    step(officer, tid, "info_table", {"periods": PERIODS, "balance_fen": balance})
    step(officer, tid, "funds_remitted", {"amount_fen": balance, "reference": ref})


def messages(cluster: Cluster, code: str, tid: str) -> list[dict[str, Any]]:
    """The node's message log of one transfer."""
    r = cluster.officer(code).http.get(f"/api/v1/transfers/{tid}/messages")
    assert r.status_code == 200, r.text
    return list(r.json())


# ---------------------------------------------------------------- a. end to end


@pytest.mark.parametrize(
    ("inn", "out"),
    [(YC, LZ), (JJ, YC)],
    ids=["luzhou-to-yongchuan", "yongchuan-to-jiangjin"],
)
def test_luyongjiang_transfer_completes_end_to_end(cluster: Cluster, inn: str, out: str) -> None:
    cluster.ensure(inn, out, relay=True)
    done_out = fd.run_transfer(
        cluster.officer(inn), cluster.officer(out), cluster.person(), timeout=60
    )
    tid = done_out["id"]
    done_in = cluster.wait_state(inn, tid, "completed")
    for code, t, role, other in ((inn, done_in, "in", out), (out, done_out, "out", inn)):
        assert t["role"] == role
        assert t["counterpart"] == other
        assert t["agreement"] == "luyongjiang"
        assert t["state"] == "completed"
        assert t["on_time"] is True
        assert t["closed_date"] <= t["total_due"]
        assert t["balance_fen"] == t["remitted_fen"] == t["credited_fen"] == 1_234_567
        assert t["periods"] == PERIODS
        assert t["allowed_messages"] == []
        # The linked case on each node is closed with the transfer.
        case = cluster.case(code, t["case_no"])
        assert case["state"] == "completed", (code, case)
    assert done_out["counterpart_state"] == "completed"
    assert done_in["counterpart_state"] == "remitted"  # the out-agency's last message
    # The out-agency opened its own case for the letter (no person at its window).
    r = cluster.officer(out).http.get(f"/api/v1/cases/{done_out['case_no']}/events")
    assert r.status_code == 200, r.text
    assert r.json()[0]["action"] == "intake"
    assert cluster.case(out, done_out["case_no"])["channel"] == "online"
    # Each side sent its own messages and received the other's, each once, all applied.
    log_in, log_out = messages(cluster, inn, tid), messages(cluster, out, tid)
    sent_in = [(m["seq"], m["type"]) for m in log_in if m["direction"] == "sent"]
    recv_out = [(m["seq"], m["type"]) for m in log_out if m["direction"] == "recv"]
    assert sorted(sent_in) == sorted(recv_out) == [(1, "contact_letter"), (2, "transfer_completed")]
    sent_out = [(m["seq"], m["type"]) for m in log_out if m["direction"] == "sent"]
    recv_in = [(m["seq"], m["type"]) for m in log_in if m["direction"] == "recv"]
    assert sorted(sent_out) == sorted(recv_in) == OUT_STEPS
    assert all(m["applied"] for m in log_in + log_out)
    # The letter carries the person's full numbers between the nodes; the log shows them masked.
    people = [m["body"]["person"] for m in log_in + log_out if "person" in m["body"]]
    assert people and all("*" in p["id_number"] for p in people)
    assert all(not p.get("phone") or "*" in p["phone"] for p in people)


# ---------------------------------------------------------------- e. signatures


def letter_payload(cluster: Cluster, sender: str, receiver: str) -> dict[str, Any]:
    """A valid contact letter from ``sender`` to ``receiver`` about a new transfer."""
    now = datetime.now(UTC)
    return {
        "v": 1,
        "message_id": str(uuid.uuid4()),
        "transfer_id": str(uuid.uuid4()),
        "type": "contact_letter",
        "from": sender,
        "to": receiver,
        "seq": 1,
        "sent_at": now.isoformat(),
        "sender_state": "checking",
        "agreement": "luyongjiang",
        "body": {
            "person": {
                "id_number": fd.synthetic_id(cluster.person()),
                "name": "李建国",
                "phone": "13900002222",
            },
            "case_no": "202611290000001",
            "applied_date": now.date().isoformat(),
        },
    }


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def sha256_digest(body: bytes) -> str:
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def header(headers: dict[str, str], name: str) -> str:
    """The actual key of a header in ``headers`` (case-insensitive)."""
    return next(k for k in headers if k.lower() == name.lower())


def test_signatures_are_checked_and_refusals_apply_nothing(cluster: Cluster) -> None:
    sender, receiver = LZ, YC
    cluster.ensure(sender, receiver, relay=True)
    fed = cluster.federation(sender)
    url = cluster.url(receiver) + PATH
    refused_before = cluster.scalar(
        receiver, "SELECT count(*) FROM audit_records WHERE action = 'federation.refused'"
    )

    def applied(payload: dict[str, Any]) -> bool:
        rows = cluster.recv_rows(receiver, payload["message_id"])
        t = cluster.scalar(
            receiver,
            "SELECT count(*) FROM transfers WHERE id = ?",
            [uuid_hex(payload["transfer_id"])],
        )
        assert rows == t, "a message and its transfer go together"
        return bool(rows)

    # A correctly signed message is applied: the letter opens a transfer on the receiver.
    good = letter_payload(cluster, sender, receiver)
    body = encode(good)
    headers = sign_request(fed, url=url, body=body, now=datetime.now(UTC))
    r = httpx.post(url, content=body, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "applied"}
    assert applied(good)
    assert cluster.transfer(receiver, good["transfer_id"])["state"] == "checking"  # type: ignore[index]
    # The same request again (same nonce): a replay, refused even though it would be harmless.
    replay = httpx.post(url, content=body, headers=headers)
    assert replay.status_code == 401, replay.text
    assert "replay" in replay.json()["detail"]
    assert cluster.recv_rows(receiver, good["message_id"]) == 1

    stranger = replace(fed, private_key=ed25519.Ed25519PrivateKey.generate())
    now = datetime.now(UTC)
    cases: dict[str, Any] = {}

    def case(name: str) -> dict[str, Any]:
        payload = letter_payload(cluster, sender, receiver)
        cases[name] = payload
        return payload

    def attempt(name: str) -> httpx.Response:
        p = case(name)
        body = encode(p)
        if name == "method":  # a POST's signature on a PUT
            h = sign_request(fed, url=url, body=body, now=now)
            return httpx.put(url, content=body, headers=h)
        if name == "path":  # signed for another path, sent to the messages endpoint
            h = sign_request(fed, url=url.replace("/messages", "/inbox"), body=body, now=now)
            return httpx.post(url, content=body, headers=h)
        if name == "query":  # signed for the endpoint, sent with a query added
            h = sign_request(fed, url=url, body=body, now=now)
            return httpx.post(url + "?priority=high", content=body, headers=h)
        if name == "authority":  # signed for another host name of the same node
            h = sign_request(fed, url=url.replace("127.0.0.1", "localhost"), body=body, now=now)
            return httpx.post(url, content=body, headers=h)
        if name == "body":  # the body changed after signing (the digest no longer matches)
            h = sign_request(fed, url=url, body=body, now=now)
            return httpx.post(
                url, content=body.replace("李建国".encode(), "李建军".encode()), headers=h
            )
        if name == "body+digest":  # body changed and its digest recomputed: signature breaks
            h = sign_request(fed, url=url, body=body, now=now)
            changed = body.replace("李建国".encode(), "李建军".encode())
            h[header(h, "content-digest")] = sha256_digest(changed)
            return httpx.post(url, content=changed, headers=h)
        if name == "digest":  # only the Content-Digest header altered
            h = sign_request(fed, url=url, body=body, now=now)
            h[header(h, "content-digest")] = sha256_digest(body + b" ")
            return httpx.post(url, content=body, headers=h)
        if name == "unknown-key":
            other = replace(stranger, key_id="999999")
            return httpx.post(
                url, content=body, headers=sign_request(other, url=url, body=body, now=now)
            )
        if name == "wrong-key":  # the sender's key id, another private key
            h = sign_request(stranger, url=url, body=body, now=now)
            return httpx.post(url, content=body, headers=h)
        if name == "unsigned":
            return httpx.post(url, content=body, headers={"Content-Type": "application/json"})
        if name == "stale":
            h = sign_request(fed, url=url, body=body, now=now - timedelta(seconds=400))
            return httpx.post(url, content=body, headers=h)
        if name == "future":
            h = sign_request(fed, url=url, body=body, now=now + timedelta(seconds=400))
            return httpx.post(url, content=body, headers=h)
        raise AssertionError(name)

    names = [
        "method",
        "path",
        "query",
        "authority",
        "body",
        "body+digest",
        "digest",
        "unknown-key",
        "wrong-key",
        "unsigned",
        "stale",
        "future",
    ]
    for name in names:
        r = attempt(name)
        assert r.status_code == 401, (name, r.status_code, r.text)
        assert r.headers["content-type"].startswith(PROBLEM), name
        problem = r.json()
        assert problem["status"] == 401 and problem["title"] and problem["detail"], name
        assert not applied(cases[name]), name
    # Every refusal is logged on the receiver (the replay too).
    refused_after = cluster.scalar(
        receiver, "SELECT count(*) FROM audit_records WHERE action = 'federation.refused'"
    )
    assert refused_after - refused_before == len(names) + 1


# ---------------------------------------------------------------- f. the other endings


def test_refused_eligibility_ends_refused_on_both_nodes(cluster: Cluster) -> None:
    inn, out = LZ, JJ
    cluster.ensure(inn, out, relay=True)
    tid = open_transfer(cluster, inn, out)["id"]
    cluster.wait_state(out, tid, "checking")
    reasons = ["转出地无该参保人有效参保记录", "参保关系已于 2019-06 终止"]
    step(cluster.officer(out), tid, "eligibility", {"accepted": False, "reasons": reasons})
    t_in = cluster.wait_state(inn, tid, "refused")
    t_out = cluster.transfer(out, tid)
    assert t_out is not None
    for code, t in ((inn, t_in), (out, t_out)):
        assert t["state"] == "refused"
        assert t["refusal_reasons"] == reasons
        assert t["allowed_messages"] == []
        case = cluster.case(code, t["case_no"])
        assert case["state"] == "rejected", (code, case)
    # Nothing can follow a refusal.
    r = cluster.officer(out).http.post(
        f"/api/v1/transfers/{tid}/messages",
        json={
            "type": "info_table",
            "version": t_out["version"],
            "body": {"periods": PERIODS, "balance_fen": 1},
        },
    )
    assert r.status_code == 422, r.text


def test_withdrawal_after_the_information_table(cluster: Cluster) -> None:
    inn, out = YC, JJ
    cluster.ensure(inn, out, relay=True)
    tid = open_transfer(cluster, inn, out)["id"]
    cluster.wait_state(out, tid, "checking")
    step(cluster.officer(out), tid, "eligibility", {"accepted": True})
    step(cluster.officer(out), tid, "info_table", {"periods": PERIODS, "balance_fen": 654_321})
    cluster.wait_state(inn, tid, "info_sent")
    step(cluster.officer(inn), tid, "withdrawal", {"reason": "本人申请撤回，暂不转移"})
    t_out = cluster.wait_state(out, tid, "withdrawn")
    t_in = cluster.transfer(inn, tid)
    assert t_in is not None
    for code, t in ((inn, t_in), (out, t_out)):
        assert t["state"] == "withdrawn"
        assert t["withdraw_reason"] == "本人申请撤回，暂不转移"
        assert t["periods"] == PERIODS and t["balance_fen"] == 654_321
        assert t["remitted_fen"] == 0
        case = cluster.case(code, t["case_no"])
        assert case["state"] == "withdrawn", (code, case)
    # The out-agency can no longer remit.
    r = cluster.officer(out).http.post(
        f"/api/v1/transfers/{tid}/messages",
        json={
            "type": "funds_remitted",
            "version": t_out["version"],
            "body": {"amount_fen": 654_321, "reference": "HX-W-1"},
        },
    )
    assert r.status_code == 422, r.text


def test_balance_mismatch_stops_until_corrected(cluster: Cluster) -> None:
    inn, out = JJ, LZ
    cluster.ensure(inn, out, relay=True)
    tid = open_transfer(cluster, inn, out)["id"]
    cluster.wait_state(out, tid, "checking")
    o = cluster.officer(out)
    step(o, tid, "eligibility", {"accepted": True})
    step(o, tid, "info_table", {"periods": PERIODS, "balance_fen": 500_000})
    after = step(o, tid, "funds_remitted", {"amount_fen": 400_000, "reference": "HX-D-1"})
    assert after["state"] == "discrepancy"
    t_in = cluster.wait_state(inn, tid, "discrepancy")
    expected = {"expected_fen": 500_000, "remitted_fen": 400_000}
    for t in (t_in, after):
        assert t["discrepancy"] == expected
        assert t["remitted_fen"] == 400_000
    # The in-agency cannot complete a stopped transfer.
    assert "transfer_completed" not in t_in["allowed_messages"]
    fixed = step(o, tid, "correction", {"additional_fen": 100_000})
    assert fixed["state"] == "remitted"
    t_in = cluster.wait_state(inn, tid, "remitted")
    for t in (t_in, fixed):
        assert t["discrepancy"] is None
        assert t["remitted_fen"] == t["balance_fen"] == 500_000
    # Crediting what was remitted first (not the corrected total) is refused.
    i = cluster.officer(inn)
    r = i.http.post(
        f"/api/v1/transfers/{tid}/messages",
        json={
            "type": "transfer_completed",
            "version": t_in["version"],
            "body": {"credited_fen": 400_000, "periods_recorded": 2},
        },
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    assert [e["field"] for e in r.json()["errors"]] == ["credited_fen"]
    assert cluster.transfer(inn, tid)["state"] == "remitted"  # type: ignore[index]
    step(i, tid, "transfer_completed", {"credited_fen": 500_000, "periods_recorded": 2})
    t_out = cluster.wait_state(out, tid, "completed")
    t_in = cluster.transfer(inn, tid)
    assert t_in is not None and t_in["state"] == "completed"
    for code, t in ((inn, t_in), (out, t_out)):
        assert t["credited_fen"] == 500_000
        assert cluster.case(code, t["case_no"])["state"] == "completed"


# ---------------------------------------------------------------- b. receiver down


@pytest.mark.slow
def test_receiver_down_while_200_transfers_start(cluster: Cluster) -> None:
    inn, out, count, workers = YC, JJ, 200, 8
    cluster.ensure(inn, out, relay=True)
    cases_before = cluster.scalar(out, "SELECT count(*) FROM cases")
    cluster.stop(out)  # SIGTERM
    people = cluster.people(count)

    def desk(code: str) -> queue.Queue[fd.Officer]:
        """``workers`` officers of one node, each logged in on its own connection pool."""
        q: queue.Queue[fd.Officer] = queue.Queue()
        for _ in range(workers):
            q.put(cluster.new_officer(code))
        return q

    def by_officer(q: queue.Queue[fd.Officer], fn: Any, *args: Any) -> Any:
        officer = q.get()
        try:
            return fn(officer, *args)
        finally:
            q.put(officer)

    def start(officer: fd.Officer, n: int) -> str:
        return str(officer.start(officer.intake(n), out, "in")["id"])

    in_desk = desk(inn)
    with ThreadPoolExecutor(workers) as pool:
        tids = list(pool.map(lambda n: by_officer(in_desk, start, n), people))
    assert len(set(tids)) == count
    hexes = [uuid_hex(t) for t in tids]
    marks = ",".join("?" * count)
    letters = cluster.rows(
        inn,
        "SELECT delivered_at, attempts FROM outbox "
        f"WHERE json_extract(payload, '$.transfer_id') IN ({marks})",
        tids,
    )
    assert len(letters) == count and all(r["delivered_at"] is None for r in letters)

    cluster.start(out, relay=True)
    out_desk = desk(out)

    # Both nodes' officers work at once on what their boards show ready, as people would.
    def remit(officer: fd.Officer, tid: str, v: int) -> None:
        v = step(officer, tid, "eligibility", {"accepted": True}, version=v)["version"]
        body = {"periods": PERIODS, "balance_fen": 300_000}
        v = step(officer, tid, "info_table", body, version=v)["version"]
        body = {"amount_fen": 300_000, "reference": tid[:20]}
        step(officer, tid, "funds_remitted", body, version=v)

    def complete(officer: fd.Officer, tid: str, v: int) -> None:
        body = {"credited_fen": 300_000, "periods_recorded": 2}
        step(officer, tid, "transfer_completed", body, version=v)

    def board(code: str, *, open_only: bool = True) -> dict[str, dict[str, Any]]:
        r = cluster.officer(code).http.get("/api/v1/transfers", params={"open_only": open_only})
        assert r.status_code == 200, r.text
        return {t["id"]: t for t in r.json()["items"]}

    to_remit, to_complete, futures = set(tids), set(tids), []
    deadline = time.monotonic() + 240
    with ThreadPoolExecutor(workers) as out_pool, ThreadPoolExecutor(workers) as in_pool:
        while to_complete:
            for code, todo, state, pool, q, fn in (
                (out, to_remit, "checking", out_pool, out_desk, remit),
                (inn, to_complete, "remitted", in_pool, in_desk, complete),
            ):
                for tid, t in board(code).items():
                    if tid in todo and t["state"] == state:
                        todo.discard(tid)
                        futures.append(pool.submit(by_officer, q, fn, tid, t["version"]))
            for f in futures:
                if f.done():
                    f.result()  # an officer's failure shows at once
            assert time.monotonic() < deadline, f"{len(to_complete)} transfers not remitted"
            time.sleep(0.25)
        for f in futures:
            f.result()
    wait_for(
        "every completion at the out-agency",
        lambda: not set(tids) & set(board(out)),
        timeout=120,
        every=0.5,
    )
    for code in (inn, out):
        shown = board(code, open_only=False)
        assert {shown[t]["state"] for t in tids} == {"completed"}, code

    # Count the rows on both sides.
    for code in (inn, out):
        n = cluster.scalar(code, f"SELECT count(*) FROM transfers WHERE id IN ({marks})", hexes)
        assert n == count, (code, n)
        dup = cluster.rows(
            code,
            "SELECT message_id, direction, count(*) FROM transfer_messages "
            f"WHERE transfer_id IN ({marks}) GROUP BY message_id, direction HAVING count(*) > 1",
            hexes,
        )
        assert dup == [], code
        undelivered = cluster.scalar(
            code,
            "SELECT count(*) FROM outbox WHERE delivered_at IS NULL "
            f"AND json_extract(payload, '$.transfer_id') IN ({marks})",
            tids,
        )
        assert undelivered == 0, code

    def ids(code: str, direction: str) -> list[str]:
        rows = cluster.rows(
            code,
            "SELECT message_id FROM transfer_messages "
            f"WHERE direction = ? AND transfer_id IN ({marks})",
            [direction, *hexes],
        )
        return sorted(r[0] for r in rows)

    assert ids(inn, "sent") == ids(out, "recv")
    assert ids(out, "sent") == ids(inn, "recv")
    assert len(ids(inn, "sent")) == 2 * count  # letter, completion
    assert len(ids(out, "sent")) == 3 * count  # eligibility, table, remittance
    # Exactly one case per transfer on the receiving side, all completed.
    case_rows = cluster.rows(
        out,
        "SELECT c.case_no, c.state FROM transfers t JOIN cases c ON c.case_no = t.case_no "
        f"WHERE t.id IN ({marks})",
        hexes,
    )
    assert len({r["case_no"] for r in case_rows}) == len(case_rows) == count
    assert {r["state"] for r in case_rows} == {"completed"}
    assert cluster.scalar(out, "SELECT count(*) FROM cases") - cases_before == count


# ---------------------------------------------------------------- c. duplicates and disorder

SHUFFLED = ["eligibility", "info_table", "funds_remitted", "correction"]
VOLATILE_API = {"id", "case_no", "person", "version", "updated_at"}
VOLATILE_ROW = {
    "pk",
    "id",
    "case_no",
    "person_id_number",
    "applied_at",
    "created_at",
    "updated_at",
    "version",
}


def staged(cluster: Cluster) -> tuple[str, list[dict[str, Any]]]:
    """A transfer Luzhou → Yongchuan whose out-agency steps wait in Luzhou's outbox.

    Yongchuan's relay carries the letter; Luzhou (relay off) accepts, sends the table, remits
    too little and corrects it: four messages to Yongchuan that only the test delivers.
    """
    tid = str(open_transfer(cluster, YC, LZ)["id"])
    cluster.wait_state(LZ, tid, "checking")
    o = cluster.officer(LZ)
    step(o, tid, "eligibility", {"accepted": True})
    step(o, tid, "info_table", {"periods": PERIODS, "balance_fen": 880_000})
    step(o, tid, "funds_remitted", {"amount_fen": 800_000, "reference": "HX-2026-0001"})
    step(o, tid, "correction", {"additional_fen": 80_000})
    rows = cluster.outbox(LZ, tid)
    assert [r["payload"]["type"] for r in rows] == SHUFFLED
    assert all(r["delivered_at"] is None for r in rows)
    t = cluster.transfer(YC, tid)
    assert t is not None and t["state"] == "checking"
    return tid, [r["payload"] for r in rows]


def receiver_view(cluster: Cluster, tid: str) -> dict[str, Any]:
    """Everything Yongchuan holds about the transfer, minus identities and timestamps."""
    api = cluster.transfer(YC, tid)
    assert api is not None
    [row] = cluster.rows(YC, "SELECT * FROM transfers WHERE id = ?", [uuid_hex(tid)])
    log = [
        # Our own letter names our case and person: its body is left out.
        (m["direction"], m["seq"], m["type"], m["applied"], m["direction"] == "recv" and m["body"])
        for m in messages(cluster, YC, tid)
    ]
    return {
        "api": {k: v for k, v in api.items() if k not in VOLATILE_API},
        # Sealed columns differ in their nonce on every write; that they are sealed is the point.
        "row": {
            k: "<sealed>" if str(row[k]).startswith("enc2:") else row[k]
            for k in row.keys()  # noqa: SIM118
            if k not in VOLATILE_ROW
        },
        "log": sorted(log, key=lambda m: (m[0], m[1])),
        "case": cluster.case(YC, api["case_no"])["state"],
    }


def deliver(cluster: Cluster, payloads: list[dict[str, Any]], order: list[int]) -> None:
    """Deliver ``payloads[i]`` for each ``i`` in ``order``, each freshly signed by Luzhou."""
    for i in order:
        r = cluster.post_signed(LZ, YC, payloads[i])
        assert r.status_code == 200, r.text
        assert r.json()["status"] in ("applied", "stored", "duplicate")


@st.composite
def deliveries(draw: st.DrawFn, n: int = len(SHUFFLED)) -> list[int]:
    """Each of ``n`` messages 1–5 times, in any order."""
    times = draw(st.lists(st.integers(1, 5), min_size=n, max_size=n))
    return draw(st.permutations([i for i, k in enumerate(times) for _ in range(k)]))


@pytest.fixture(scope="module")
def single_delivery(cluster: Cluster) -> dict[str, Any]:
    """The receiver's view of a transfer whose four messages arrived once, in order."""
    cluster.ensure(YC, relay=True)
    cluster.ensure(LZ, relay=False)
    tid, payloads = staged(cluster)
    deliver(cluster, payloads, list(range(len(payloads))))
    view = receiver_view(cluster, tid)
    assert view["api"]["state"] == "remitted"
    assert view["api"]["counterpart_state"] == "remitted"
    assert view["api"]["remitted_fen"] == view["api"]["balance_fen"] == 880_000
    assert view["api"]["discrepancy"] is None
    return view


@pytest.mark.slow
@settings(
    max_examples=10,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(order=deliveries())
@example(order=[3, 2, 1, 0])
@example(order=[3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0])
@example(order=[1, 1, 3, 0, 2, 0])
def test_duplicated_and_shuffled_delivery_equals_single_delivery(
    cluster: Cluster, single_delivery: dict[str, Any], order: list[int]
) -> None:
    cluster.ensure(YC, relay=True)
    cluster.ensure(LZ, relay=False)
    tid, payloads = staged(cluster)
    deliver(cluster, payloads, order)
    assert receiver_view(cluster, tid) == single_delivery
    for p in payloads:
        assert cluster.recv_rows(YC, p["message_id"]) == 1


# ---------------------------------------------------------------- g. dead letters


def node_runtime(cluster: Cluster, code: str, clock: Any) -> tuple[Runtime, Database]:
    """A runtime over the node's own SQLite file with a clock the test moves."""
    url = f"sqlite:///{cluster.db_path(code)}"
    db = Database(url)
    rt = Runtime(Settings(agency=code, database_url=url), db, clock=clock)
    return rt, db


def test_dead_letter_after_24_hours_and_retry(cluster: Cluster) -> None:
    sender, receiver = LZ, JJ
    cluster.ensure(YC, JJ, relay=True)
    cluster.ensure(sender, relay=False)
    real = cluster.federation(sender)
    now = [datetime.now(UTC)]
    rt, db = node_runtime(cluster, sender, lambda: now[0])
    try:
        with httpx.Client(timeout=httpx.Timeout(5.0, connect=2.0)) as client:
            # What earlier tests left in the outbox goes out first (duplicates are harmless).
            rt.federation = real
            while deliver_due(rt, client, limit=500).delivered:
                pass
            left = cluster.scalar(sender, "SELECT count(*) FROM outbox WHERE delivered_at IS NULL")
            assert left == 0, "the sender's outbox should be empty before this test"

            tid = str(open_transfer(cluster, sender, receiver)["id"])
            [row] = cluster.outbox(sender, tid)
            created = now[0] = datetime.now(UTC)
            closed = fd.free_port()  # nothing listens there
            peer = replace(real.peers[receiver], base_url=f"http://127.0.0.1:{closed}")
            rt.federation = replace(real, peers={**real.peers, receiver: peer})

            r = deliver_due(rt, client)
            assert (r.delivered, r.failed, r.dead) == (0, 1, 0)
            now[0] = created + timedelta(hours=12)
            r = deliver_due(rt, client)
            assert (r.delivered, r.failed, r.dead) == (0, 1, 0)
            [mid] = cluster.outbox(sender, tid)
            assert mid["attempts"] == 2 and mid["dead_at"] is None and mid["last_error"]
            now[0] = created + DEAD_AFTER + timedelta(minutes=1)
            r = deliver_due(rt, client)
            assert (r.delivered, r.failed, r.dead) == (0, 0, 1)
            [dead] = cluster.outbox(sender, tid)
            assert dead["dead_at"] is not None and dead["delivered_at"] is None
            assert dead["attempts"] == 3
            # A dead letter is not tried again by the relay.
            now[0] += timedelta(hours=1)
            r = deliver_due(rt, client)
            assert (r.delivered, r.failed, r.dead) == (0, 0, 0)
            assert cluster.transfer(receiver, tid) is None

            # It is on the board; an officer retries it and it is queued again, now.
            officer = cluster.officer(sender)
            board = officer.http.get("/api/v1/federation/dead-letters")
            assert board.status_code == 200, board.text
            [shown] = [d for d in board.json() if d["transfer_id"] == tid]
            assert shown["id"] == row["id"] and shown["type"] == "contact_letter"
            assert shown["attempts"] == 3 and shown["last_error"]
            retried = officer.http.post(f"/api/v1/federation/dead-letters/{row['id']}/retry")
            assert retried.status_code == 200, retried.text
            assert retried.json()["dead_at"] is None
            board = officer.http.get("/api/v1/federation/dead-letters").json()
            assert all(d["id"] != row["id"] for d in board)
            [back] = cluster.outbox(sender, tid)
            assert back["dead_at"] is None and back["attempts"] == 0
            assert back["delivered_at"] is None

            # With the peer reachable again, the next pass delivers it.
            now[0] = datetime.now(UTC)
            rt.federation = real
            r = deliver_due(rt, client)
            assert r.delivered == 1 and r.dead == 0
    finally:
        db.dispose()
    assert cluster.wait_state(receiver, tid, "checking")
    assert cluster.recv_rows(receiver, row["payload"]["message_id"]) == 1


# ---------------------------------------------------------------- d. crash between commit and send


@pytest.mark.slow
def test_relay_killed_between_commit_and_send(cluster: Cluster) -> None:
    sender, receiver = LZ, YC
    cluster.ensure(receiver, relay=True)
    cluster.ensure(sender, relay=False)
    tid = str(open_transfer(cluster, sender, receiver)["id"])
    [letter] = cluster.outbox(sender, tid)
    message_id = letter["payload"]["message_id"]
    assert letter["delivered_at"] is None  # committed, not sent
    cluster.stop(sender, kill=True)  # SIGKILL: nothing gets finished
    assert cluster.transfer(receiver, tid) is None
    assert cluster.recv_rows(receiver, message_id) == 0

    cluster.start(sender, relay=True)
    cluster.wait_state(receiver, tid, "checking")
    wait_for(
        "the letter marked delivered",
        lambda: cluster.outbox(sender, tid)[0]["delivered_at"] is not None,
    )
    assert cluster.recv_rows(receiver, message_id) == 1
    # The transfer proceeds.
    accept_and_remit(cluster, receiver, tid, 42_000, "HX-K-1")
    cluster.wait_state(sender, tid, "remitted")
    step(
        cluster.officer(sender),
        tid,
        "transfer_completed",
        {"credited_fen": 42_000, "periods_recorded": 2},
    )
    done = cluster.wait_state(receiver, tid, "completed")
    assert done["agreement"] == "luyongjiang" and done["on_time"] is True
    assert cluster.recv_rows(receiver, message_id) == 1


@pytest.fixture(autouse=True)
def _nodes_alive(cluster: Cluster) -> Iterator[None]:
    """A test that fails with a node stopped does not leave it stopped for the next one."""
    yield
    for code in cluster.nodes:
        if not cluster.running(code):
            cluster.start(code, relay=True)
