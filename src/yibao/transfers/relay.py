"""The relay: delivers outbox messages to peers, with retries, until acknowledged.

At-least-once: a message is marked delivered only after the peer answered 2xx (it answers
2xx for a duplicate too). Failures back off exponentially (1 s, 2 s, 4 s … capped at 5 min);
a message undelivered for 24 hours becomes a dead letter that a person can retry.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlalchemy import select, update

from yibao.runtime import Runtime
from yibao.transfers.models import OutboxMessage
from yibao.transfers.signing import sign_request

log = logging.getLogger("yibao.relay")

MAX_BACKOFF = timedelta(minutes=5)
DEAD_AFTER = timedelta(hours=24)
PATH = "/federation/v1/messages"


def backoff(attempts: int) -> timedelta:
    """The wait before the next try after ``attempts`` failures (with a little jitter)."""
    base = min(2 ** max(attempts - 1, 0), MAX_BACKOFF.total_seconds())
    return timedelta(seconds=min(base * random.uniform(0.9, 1.1), MAX_BACKOFF.total_seconds()))


@dataclass
class RoundResult:
    """What one pass of the relay did."""

    delivered: int = 0
    failed: int = 0
    dead: int = 0


def deliver_due(runtime: Runtime, client: httpx.Client, *, limit: int = 100) -> RoundResult:
    """Send every message that is due, oldest first; each outcome commits on its own."""
    fed = runtime.federation
    result = RoundResult()
    if fed is None:
        return result
    now = runtime.now()
    with runtime.db.session() as s:
        due = list(
            s.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.agency == runtime.agency,
                    OutboxMessage.delivered_at.is_(None),
                    OutboxMessage.dead_at.is_(None),
                    OutboxMessage.next_attempt_at <= now,
                )
                .order_by(OutboxMessage.id)
                .limit(limit)
            )
        )
    for msg in due:
        peer = fed.peers.get(msg.to_agency)
        error: str | None
        if peer is None:
            error = f"no peer configured for {msg.to_agency}"
        else:
            body = json.dumps(msg.payload, ensure_ascii=False, separators=(",", ":")).encode()
            url = peer.base_url + PATH
            headers = sign_request(fed, url=url, body=body, now=runtime.now())
            try:
                r = client.post(url, content=body, headers=headers)
                error = (
                    None if 200 <= r.status_code < 300 else f"HTTP {r.status_code}: {r.text[:300]}"
                )
            except httpx.HTTPError as exc:
                error = f"{exc.__class__.__name__}: {exc}"
        with runtime.db.uow() as uow:
            row = uow.session.get(OutboxMessage, msg.id)
            if row is None or row.delivered_at is not None:
                continue
            at = runtime.now()
            if error is None:
                row.delivered_at = at
                row.last_error = None
                result.delivered += 1
                if row.attempts:
                    # The peer is back: what waits for it need not sit out its back-off.
                    uow.session.execute(
                        update(OutboxMessage)
                        .where(
                            OutboxMessage.agency == runtime.agency,
                            OutboxMessage.to_agency == row.to_agency,
                            OutboxMessage.delivered_at.is_(None),
                            OutboxMessage.dead_at.is_(None),
                            OutboxMessage.next_attempt_at > at,
                        )
                        .values(next_attempt_at=at)
                    )
            else:
                row.attempts += 1
                row.last_error = error
                if at - row.created_at >= DEAD_AFTER:
                    row.dead_at = at
                    result.dead += 1
                    log.warning("dead letter %s to %s: %s", row.message_id, row.to_agency, error)
                else:
                    row.next_attempt_at = at + backoff(row.attempts)
                    result.failed += 1
            uow.commit()
    return result


class Relay:
    """A background thread running ``deliver_due``; ``wake()`` after a commit sends at once."""

    def __init__(self, runtime: Runtime, *, idle_seconds: float = 1.0) -> None:
        self.runtime = runtime
        self.idle_seconds = idle_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="yibao-relay", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """Ask for a pass now (a message was just queued)."""
        self._wake.set()

    def stop(self) -> None:
        """Stop the thread and wait for it."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        with httpx.Client(timeout=httpx.Timeout(10.0, connect=3.0)) as client:
            while not self._stop.is_set():
                try:
                    r = deliver_due(self.runtime, client)
                except Exception:  # keep relaying whatever one pass hit
                    log.exception("relay pass failed")
                    r = RoundResult()
                if r.delivered or r.failed:
                    continue  # more may be due right away
                self._wake.wait(self.idle_seconds)
                self._wake.clear()
