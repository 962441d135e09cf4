"""The chain's arithmetic: canonical form, hashing, and that any single change is detected."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from yibao.audit import chain

T0 = datetime(2026, 9, 29, 2, 0, tzinfo=UTC)


def fields(i: int, **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "agency": "500118",
        "at": chain.at_text(T0 + timedelta(seconds=i, microseconds=7)),
        "actor_id": i % 3 or None,
        "actor_name": f"clerk_{i}",
        "role": "clerk",
        "unit": "F01",
        "action": "case.intake",
        "object_type": "case",
        "object_id": f"F01-{i:04d}",
        "result": "ok",
        "ip": "127.0.0.1",
        "request_id": None,
        "detail": {"i": i, "名字": "王芳"},
    }
    base.update(over)
    return base


def test_canonical_form_is_sorted_compact_utf8_json() -> None:
    f = {**fields(1), "seq": 1, "prev_hash": chain.GENESIS}
    text = chain.canonical(f).decode("utf-8")
    assert text.startswith('{"action":"case.intake","actor_id":1,"actor_name":"clerk_1",')
    assert '"detail":{"i":1,"名字":"王芳"}' in text  # not \\u escaped, keys sorted, no spaces
    assert '"at":"2026-09-29T02:00:01.000007+00:00"' in text
    assert json.loads(text) == f
    assert chain.record_hash(f) == hashlib.sha256(text.encode()).hexdigest()


def test_at_text_is_utc_with_microseconds() -> None:
    local = datetime(2026, 9, 29, 10, 0, tzinfo=UTC).astimezone()
    assert chain.at_text(local) == "2026-09-29T10:00:00.000000+00:00"


def test_first_record_links_to_genesis_and_each_to_the_one_before() -> None:
    rows = chain.build([fields(i) for i in range(3)])
    assert [r["seq"] for r in rows] == [1, 2, 3]
    assert rows[0]["prev_hash"] == "0" * 64
    assert rows[1]["prev_hash"] == rows[0]["hash"] and rows[2]["prev_hash"] == rows[1]["hash"]
    assert chain.check(rows, head_seq=3, head_hash=rows[-1]["hash"]) is None


texts = st.text(max_size=12)
opt_texts = st.none() | texts
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
records = st.fixed_dictionaries(
    {
        "agency": st.just("500118"),
        "at": st.datetimes(
            min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
        ).map(chain.at_text),
        "actor_id": st.none() | st.integers(0, 2**40),
        "actor_name": texts,
        "role": opt_texts,
        "unit": opt_texts,
        "action": texts,
        "object_type": texts,
        "object_id": texts,
        "result": st.sampled_from(chain.RESULTS),
        "ip": opt_texts,
        "request_id": opt_texts,
        "detail": st.dictionaries(texts, json_values, max_size=4),
    }
)


@settings(max_examples=300, deadline=None)
@given(
    records, st.integers(1, 2**40), st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
)
def test_fast_hash_is_the_canonical_hash(rec: dict[str, Any], seq: int, prev: str) -> None:
    full = {**rec, "seq": seq, "prev_hash": prev}
    fast = chain.fast_hash(
        rec["agency"], seq, rec["at"], rec["actor_id"], rec["actor_name"], rec["role"],
        rec["unit"], rec["action"], rec["object_type"], rec["object_id"], rec["result"],
        rec["ip"], rec["request_id"], chain.canonical_detail(rec["detail"]), prev,
    )  # fmt: skip
    assert fast == chain.record_hash(full)


def _head(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"head_seq": len(rows), "head_hash": rows[-1]["hash"]}


@settings(max_examples=150, deadline=None)
@given(st.lists(records, min_size=2, max_size=8), st.data())
def test_any_single_change_is_detected(recs: list[dict[str, Any]], data: st.DataObject) -> None:
    rows = chain.build(recs)
    head = _head(rows)
    assert chain.check(rows, **head) is None
    n = len(rows)
    i = data.draw(st.integers(0, n - 1), label="position")
    kind = data.draw(st.sampled_from(["edit", "delete", "insert", "reorder", "truncate"]))
    tampered = [dict(r) for r in rows]
    if kind == "edit":
        name = data.draw(st.sampled_from([k for k in recs[0] if k != "agency"]))
        value = data.draw(records)[name]
        if value == tampered[i][name]:
            return
        tampered[i][name] = value
    elif kind == "delete":
        del tampered[i]
        if not tampered:
            return
    elif kind == "insert":
        extra = chain.build(
            [data.draw(records)], start_seq=i + 1, prev=rows[i - 1]["hash"] if i else chain.GENESIS
        )
        tampered.insert(i, extra[0])
        for j in range(i + 1, len(tampered)):  # the tamperer renumbers what follows
            tampered[j]["seq"] += 1
    elif kind == "reorder":
        if i == n - 1:
            i -= 1
        a, b = tampered[i], tampered[i + 1]
        tampered[i], tampered[i + 1] = b, a
        a["seq"], b["seq"] = b["seq"], a["seq"]
    else:
        i = max(i, 1)
        tampered = tampered[:i]
    broken = chain.check(tampered, **head)
    assert broken is not None, kind
    # Named at the change (or right after it, when an inserted record equals its neighbour).
    assert broken.seq <= i + 2


def test_each_kind_is_named_at_its_place() -> None:
    rows = chain.build([fields(i) for i in range(10)])
    head = _head(rows)

    edited = [dict(r) for r in rows]
    edited[4]["actor_name"] = "x"
    assert chain.check(edited, **head) == chain.Break(5, "edited")

    rehashed = chain.build([fields(i) if i != 4 else fields(4, actor_name="x") for i in range(5)])
    rehashed += [dict(r) for r in rows[5:]]
    assert chain.check(rehashed, **head) == chain.Break(5, "edited")

    gap = rows[:3] + rows[4:]
    assert chain.check(gap, **head) == chain.Break(4, "deleted")

    renumbered = [dict(r) for r in rows[:3] + rows[4:]]
    for r in renumbered[3:]:
        r["seq"] -= 1
    assert chain.check(renumbered, **head) == chain.Break(4, "deleted")

    inserted = [dict(r) for r in rows[:3]]
    inserted += chain.build([fields(99)], start_seq=4, prev=rows[2]["hash"])
    inserted += [{**r, "seq": r["seq"] + 1} for r in rows[3:]]
    assert chain.check(inserted, **head) == chain.Break(4, "inserted")

    swapped = [dict(r) for r in rows]
    swapped[5], swapped[6] = swapped[6], swapped[5]
    swapped[5]["seq"], swapped[6]["seq"] = 6, 7
    assert chain.check(swapped, **head) == chain.Break(6, "reordered")

    assert chain.check(rows[:7], **head) == chain.Break(8, "truncated")
