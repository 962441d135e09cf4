"""A rate limiter whose counts live in the database, so all workers of a node share them.

One upsert per hit (``INSERT … ON CONFLICT DO UPDATE … RETURNING``, the same statement on
SQLite and PostgreSQL) counts the hit and returns the window's total atomically under
concurrent workers; a second read gets the previous window; a hit over the limit is rolled
back. Old windows are removed now and
then by the hit that happens to run the clean-up.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from yibao.db import Database
from yibao.throttle.models import RateCounter
from yibao.throttle.rules import wait_seconds, window_of

# One hit in this many also deletes windows that can no longer count.
_CLEANUP_ONE_IN = 200
MAX_KEY_LENGTH = 200


class SharedRateLimiter:
    """At most ``limit`` hits per key in a sliding ``window`` of seconds, for the whole node."""

    def __init__(
        self,
        db: Database,
        *,
        agency: str,
        scope: str,
        limit: int,
        window: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.agency = agency
        self.scope = scope
        self.limit = limit
        self.window = window
        self.clock = clock

    def hit(self, key: str) -> float | None:
        """Count one hit; returns the seconds to wait when over the limit, else None.

        A refused hit is not counted, so a client that keeps knocking is let in again as soon
        as its earlier hits age out.
        """
        name = f"{self.scope}:{key}"[:MAX_KEY_LENGTH]
        w = window_of(self.clock(), self.window)
        with self.db.uow() as uow:
            s = uow.session
            # Count first: the upsert locks the key's row (PostgreSQL) or the database (SQLite's
            # BEGIN IMMEDIATE) until commit, so concurrent workers see each other's hits.
            pg = s.get_bind().dialect.name == "postgresql"
            insert = postgresql.insert if pg else sqlite.insert
            stmt = (
                insert(RateCounter)
                .values(agency=self.agency, key=name, window_no=w.index, hits=1)
                .on_conflict_do_update(
                    index_elements=["agency", "key", "window_no"],
                    set_={"hits": RateCounter.hits + 1},
                )
                .returning(RateCounter.hits)
            )
            current = int(s.execute(stmt).scalar_one())
            previous = (
                s.scalar(
                    select(RateCounter.hits).where(
                        RateCounter.agency == self.agency,
                        RateCounter.key == name,
                        RateCounter.window_no == w.index - 1,
                    )
                )
                or 0
            )
            # Decide on the hits before this one; a refused hit is rolled back, not counted.
            wait = wait_seconds(previous, current - 1, w.fraction, self.limit, self.window)
            if wait > 0:
                uow.rollback()
                return max(1.0, wait)
            if random.randrange(_CLEANUP_ONE_IN) == 0:
                s.execute(
                    delete(RateCounter).where(
                        RateCounter.agency == self.agency,
                        RateCounter.window_no < w.index - 1,
                        RateCounter.key.like(f"{self.scope}:%"),
                    )
                )
            uow.commit()
        return None

    def refund(self, key: str) -> None:
        """Take back one hit of this window (a try that turned out not to count, e.g. a right
        ID tail under a bound on wrong ones); never below zero."""
        name = f"{self.scope}:{key}"[:MAX_KEY_LENGTH]
        w = window_of(self.clock(), self.window)
        with self.db.uow() as uow:
            uow.session.execute(
                update(RateCounter)
                .where(
                    RateCounter.agency == self.agency,
                    RateCounter.key == name,
                    RateCounter.window_no == w.index,
                    RateCounter.hits > 0,
                )
                .values(hits=RateCounter.hits - 1)
            )
            uow.commit()
