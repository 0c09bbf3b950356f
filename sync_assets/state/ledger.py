"""The sync ledger: what was sent where, watermarks, dead letters, the webhook inbox and alerts.

SQLite in WAL mode through the stdlib. Several run processes write at once, so every state change is one
short ``BEGIN IMMEDIATE`` transaction (the write lock is taken up front, so two writers never deadlock on
a read-to-write upgrade) with a generous busy timeout. A process crash at any instruction leaves either the whole transaction or
none of it. ``synchronous=NORMAL`` (the default; WAL's recommended setting) keeps that guarantee for
process crashes and never corrupts the file; on an OS crash or power loss the last few commits may roll
back, which this design tolerates: a lost ``mark_done`` means one idempotent re-send, a lost watermark
means one window re-read. Pass ``synchronous="FULL"`` to pay an fsync per commit (~8 ms here) instead.

Ledger rows, per (flow, source id):

* ``claim`` hands out rows not ``done`` with the same payload hash — an unchanged re-delivery is skipped,
  an edit is re-sent — and marks them ``in_flight`` under a lease. A process that dies holding a claim
  leaves it ``in_flight``; after ``lease_seconds`` another run may claim it again, which is safe because
  every target write is an idempotent upsert (external ids / idempotency keys).
* ``dead`` rows with the same hash are skipped too (no hot retry loop on a bad record); an operator's
  ``mark_replayed`` or a changed payload makes them claimable again.

Launch leases, per flow, close the gap in "one run in flight per flow": a trigger (the polling sensor, the
webhook launcher) looks for a run in flight, then asks Dagster for one, which exists only a moment later.
Two triggers can both see none in that moment. Each takes the flow's launch lease before asking; the
run releases it when it starts (the ledger resource does), by when Dagster lists it as in flight.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sync_assets.domain.windows import Watermark

SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger (
    flow TEXT NOT NULL,
    source_id TEXT NOT NULL,
    target_id TEXT,
    payload_hash TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'in_flight', 'done', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    claim_token TEXT,
    claim_hash TEXT,
    claimed_at REAL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (flow, source_id)
);
CREATE INDEX IF NOT EXISTS ledger_status ON ledger (flow, status);
CREATE TABLE IF NOT EXISTS watermarks (
    entity TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    flow TEXT NOT NULL,
    source_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    field_path TEXT,
    payload TEXT,
    status TEXT NOT NULL CHECK (status IN ('open', 'replayed', 'resolved')),
    occurrences INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_source ON dead_letters (flow, source_id, status);
CREATE TABLE IF NOT EXISTS inbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('new', 'taken', 'acked')),
    taken_at REAL,
    received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS inbox_topic ON inbox (topic, status, seq);
CREATE TABLE IF NOT EXISTS launch_leases (
    flow TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS landed_files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    raw_table TEXT NOT NULL,
    path TEXT NOT NULL UNIQUE,
    run_id TEXT NOT NULL,
    rows INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'merged', 'missing')),
    landed_at TEXT NOT NULL,
    merged_at TEXT
);
CREATE INDEX IF NOT EXISTS landed_files_status ON landed_files (status, id);
CREATE TABLE IF NOT EXISTS findings (
    check_name TEXT NOT NULL,
    partition TEXT NOT NULL,
    kind TEXT NOT NULL,
    source_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'healed')),
    detail TEXT,
    data TEXT,
    first_seen_at TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    healed_at TEXT,
    times_seen INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (check_name, partition, kind, source_id)
);
CREATE INDEX IF NOT EXISTS findings_open ON findings (check_name, status, partition);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    message TEXT NOT NULL,
    run_id TEXT,
    created_at TEXT NOT NULL
);
"""

DEFAULT_LEASE_SECONDS = 300.0
# Covers a trigger's decision → Dagster's run created (≤ 1-3 s on a busy machine); also how long a lease
# whose run never came (Dagster skipped a duplicate run key) holds the other trigger back.
LAUNCH_LEASE_SECONDS = 15.0


def _now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Claim:
    flow: str
    source_id: str
    payload_hash: str
    token: str
    previous_target_id: str | None  # set when an edit re-sends a record that already has a target


@dataclass(frozen=True)
class LedgerEntry:
    flow: str
    source_id: str
    target_id: str | None
    payload_hash: str | None
    status: str
    attempts: int
    last_error: str | None
    updated_at: str


@dataclass(frozen=True)
class DeadLetter:
    id: int
    flow: str
    source_id: str
    reason: str
    field_path: str | None
    payload: Any
    status: str
    occurrences: int
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class LandedFile:
    """A durable Parquet file in the landing area, waiting for (or done with) the merge into ``raw_table``."""

    raw_table: str
    path: str
    run_id: str
    rows: int
    id: int | None = None  # set once recorded


@dataclass(frozen=True)
class SeenFinding:
    """What a check run saw: one (kind, source id) in its partition, with what to show about it."""

    kind: str
    source_id: str
    detail: str = ""
    data: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class TrackedFinding:
    """A finding as the ledger keeps it across runs of its partition: ``open`` until a run no longer sees it."""

    check_name: str
    partition: str
    kind: str
    source_id: str
    status: str  # open | healed
    detail: str | None
    data: Any
    first_seen_at: str
    opened_at: str  # when it was last opened: first seen, or seen again after it had healed
    last_seen_at: str
    healed_at: str | None
    times_seen: int


@dataclass(frozen=True)
class InboxEvent:
    event_id: str
    topic: str
    payload: Any
    received_at: str


class Ledger:
    """One SQLite file; safe to share between processes (each opens its own connection)."""

    def __init__(self, path: str | os.PathLike, *, busy_timeout_ms: int = 30_000, synchronous: str = "NORMAL") -> None:
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be NORMAL or FULL, got {synchronous!r}")
        self.path = Path(path)
        self._synchronous = synchronous
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        with self._transaction() as conn:
            # statement by statement: executescript would commit the surrounding transaction first
            for statement in filter(str.strip, SCHEMA.split(";")):
                conn.execute(statement)

    # -- connection handling -------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        # A connection must not cross a fork or a thread: keep one per (process, thread).
        conn = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = sqlite3.connect(self.path, timeout=self._busy_timeout_ms / 1000, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            self._set_wal(conn)
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            conn.execute("PRAGMA foreign_keys = ON")
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def _set_wal(self, conn: sqlite3.Connection) -> None:
        # Switching to WAL needs a moment of exclusivity; under a crowd of first-time openers retry briefly.
        deadline = time.monotonic() + self._busy_timeout_ms / 1000
        while True:
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "pid", None) == os.getpid():
            conn.close()
        self._local.conn = None

    def integrity_check(self) -> str:
        return self._connection().execute("PRAGMA integrity_check").fetchone()[0]

    # -- ledger entries ------------------------------------------------------------------------------

    def claim(
        self, flow: str, items: Mapping[str, str] | Iterable[tuple[str, str]], *, lease_seconds: float = DEFAULT_LEASE_SECONDS
    ) -> list[Claim]:
        """Claim ``(source_id, payload_hash)`` pairs that still need sending; see the module docstring."""
        pairs = list(items.items() if isinstance(items, Mapping) else items)
        now, now_iso = time.time(), _now_iso()
        claims: list[Claim] = []
        with self._transaction() as conn:
            for source_id, payload_hash in pairs:
                row = conn.execute(
                    "SELECT status, payload_hash, target_id, claimed_at FROM ledger WHERE flow = ? AND source_id = ?",
                    (flow, source_id),
                ).fetchone()
                if row is not None:
                    if row["status"] in ("done", "dead") and row["payload_hash"] == payload_hash:
                        continue
                    if row["status"] == "in_flight" and (row["claimed_at"] or 0) > now - lease_seconds:
                        continue
                token = uuid.uuid4().hex
                conn.execute(
                    """INSERT INTO ledger (flow, source_id, status, claim_token, claim_hash, claimed_at, updated_at)
                       VALUES (?, ?, 'in_flight', ?, ?, ?, ?)
                       ON CONFLICT (flow, source_id) DO UPDATE SET status = 'in_flight', claim_token = excluded.claim_token,
                         claim_hash = excluded.claim_hash, claimed_at = excluded.claimed_at, updated_at = excluded.updated_at""",
                    (flow, source_id, token, payload_hash, now, now_iso),
                )
                claims.append(Claim(flow, source_id, payload_hash, token, row["target_id"] if row else None))
        return claims

    def release(self, flow: str, source_id: str) -> None:
        """Give a claim back without counting an attempt (e.g. the run is shutting down)."""
        with self._transaction() as conn:
            conn.execute(
                "UPDATE ledger SET status = 'pending', claim_token = NULL, claimed_at = NULL, updated_at = ? "
                "WHERE flow = ? AND source_id = ? AND status = 'in_flight'",
                (_now_iso(), flow, source_id),
            )

    def mark_done(self, flow: str, source_id: str, target_id: str, payload_hash: str) -> None:
        """Record a durable target write; resolves the source's open dead letters in the same transaction."""
        self.mark_done_many(flow, [(source_id, target_id, payload_hash)])

    def mark_done_many(self, flow: str, rows: Iterable[tuple[str, str, str]]) -> int:
        """:meth:`mark_done` for many (source id, target id, payload hash) in one transaction: a catalog's
        first run records tens of thousands of products already in sync, and a commit each costs minutes."""
        now = _now_iso()
        rows = [(flow, source_id, str(target_id), payload_hash, now) for source_id, target_id, payload_hash in rows]
        with self._transaction() as conn:
            conn.executemany(
                """INSERT INTO ledger (flow, source_id, target_id, payload_hash, status, attempts, updated_at)
                   VALUES (?, ?, ?, ?, 'done', 0, ?)
                   ON CONFLICT (flow, source_id) DO UPDATE SET target_id = excluded.target_id,
                     payload_hash = excluded.payload_hash, status = 'done', attempts = 0, last_error = NULL,
                     claim_token = NULL, claim_hash = NULL, claimed_at = NULL, updated_at = excluded.updated_at""",
                rows,
            )
            conn.executemany(
                "UPDATE dead_letters SET status = 'resolved', updated_at = ? WHERE flow = ? AND source_id = ? AND status != 'resolved'",
                [(now, flow, row[1]) for row in rows],
            )
        return len(rows)

    def mark_failed(
        self,
        flow: str,
        source_id: str,
        error: str,
        *,
        max_attempts: int = 5,
        payload: Any = None,
        field_path: str | None = None,
    ) -> LedgerEntry:
        """Count a failed attempt. At ``max_attempts`` the record is dead-lettered (same transaction)."""
        now = _now_iso()
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT attempts, claim_hash FROM ledger WHERE flow = ? AND source_id = ?", (flow, source_id)
            ).fetchone()
            attempts = (row["attempts"] if row else 0) + 1
            status = "dead" if attempts >= max_attempts else "pending"
            conn.execute(
                """INSERT INTO ledger (flow, source_id, status, attempts, last_error, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?)
                   ON CONFLICT (flow, source_id) DO UPDATE SET status = excluded.status, attempts = excluded.attempts,
                     last_error = excluded.last_error, claim_token = NULL, claimed_at = NULL,
                     payload_hash = CASE WHEN excluded.status = 'dead' THEN ledger.claim_hash ELSE ledger.payload_hash END,
                     updated_at = excluded.updated_at""",
                (flow, source_id, status, attempts, error, now),
            )
            if status == "dead":
                self._upsert_dead_letter(conn, flow, source_id, f"gave up after {attempts} attempts: {error}", payload, field_path, now)
        entry = self.get_entry(flow, source_id)
        assert entry is not None
        return entry

    def get_entry(self, flow: str, source_id: str) -> LedgerEntry | None:
        row = self._connection().execute(
            "SELECT flow, source_id, target_id, payload_hash, status, attempts, last_error, updated_at "
            "FROM ledger WHERE flow = ? AND source_id = ?",
            (flow, source_id),
        ).fetchone()
        return LedgerEntry(**dict(row)) if row else None

    def settled(self, flow: str, source_id: str, payload_hash: str) -> bool:
        """Done or dead-lettered at exactly this payload hash: nothing to do until the source changes."""
        entry = self.get_entry(flow, source_id)
        return entry is not None and entry.status in ("done", "dead") and entry.payload_hash == payload_hash

    def entries(self, flow: str, status: str | None = None) -> list[LedgerEntry]:
        sql = "SELECT flow, source_id, target_id, payload_hash, status, attempts, last_error, updated_at FROM ledger WHERE flow = ?"
        args: list[Any] = [flow]
        if status:
            sql += " AND status = ?"
            args.append(status)
        return [LedgerEntry(**dict(r)) for r in self._connection().execute(sql + " ORDER BY source_id", args)]

    def has_entries(self, flow: str, status: str) -> bool:
        row = self._connection().execute("SELECT 1 FROM ledger WHERE flow = ? AND status = ? LIMIT 1", (flow, status)).fetchone()
        return row is not None

    def done_hashes(self, flow: str, source_ids: Iterable[str]) -> dict[str, str]:
        """source id → payload hash of what was durably sent (for skipping unchanged records cheaply)."""
        ids = list(source_ids)
        result: dict[str, str] = {}
        conn = self._connection()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in conn.execute(
                f"SELECT source_id, payload_hash FROM ledger WHERE flow = ? AND status = 'done' AND source_id IN ({marks})",
                [flow, *chunk],
            ):
                result[row["source_id"]] = row["payload_hash"]
        return result

    def status_counts(self) -> dict[str, dict[str, int]]:
        """flow → ledger status → rows, and ``open_dead_letters`` per flow (only flows that have any)."""
        conn = self._connection()
        out: dict[str, dict[str, int]] = {}
        for r in conn.execute("SELECT flow, status, COUNT(*) AS n FROM ledger GROUP BY flow, status"):
            out.setdefault(r["flow"], {})[r["status"]] = r["n"]
        for r in conn.execute("SELECT flow, COUNT(*) AS n FROM dead_letters WHERE status = 'open' GROUP BY flow"):
            out.setdefault(r["flow"], {})["open_dead_letters"] = r["n"]
        return out

    # -- watermarks ----------------------------------------------------------------------------------

    def get_watermark(self, entity: str) -> Watermark | None:
        row = self._connection().execute("SELECT value FROM watermarks WHERE entity = ?", (entity,)).fetchone()
        return Watermark.from_json(json.loads(row["value"])) if row else None

    def advance_watermark(self, entity: str, new: Watermark, *, landed: Iterable[LandedFile] = ()) -> bool:
        """Move forward only. Returns False (and changes nothing) when ``new`` is not past the stored one,
        e.g. a slower concurrent run finishing after a faster one.

        ``landed`` files are recorded for the warehouse merge in the same transaction (whether or not the
        watermark moves): what the run saw is queued exactly when the watermark moves past it."""
        with self._transaction() as conn:
            self._record_landed(conn, landed)
            return self._advance(conn, entity, new)

    @staticmethod
    def _advance(conn: sqlite3.Connection, entity: str, new: Watermark) -> bool:
        row = conn.execute("SELECT value FROM watermarks WHERE entity = ?", (entity,)).fetchone()
        if row is not None and new <= Watermark.from_json(json.loads(row["value"])):
            return False
        conn.execute(
            "INSERT INTO watermarks (entity, value, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (entity) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            (entity, json.dumps(new.to_json()), _now_iso()),
        )
        return True

    # -- landed files (the warehouse's write queue) --------------------------------------------------

    def record_landed(self, files: Iterable[LandedFile]) -> None:
        """Queue durable landing files for the warehouse merge (flows without a watermark)."""
        with self._transaction() as conn:
            self._record_landed(conn, files)

    @staticmethod
    def _record_landed(conn: sqlite3.Connection, files: Iterable[LandedFile]) -> None:
        now = _now_iso()
        conn.executemany(
            "INSERT OR IGNORE INTO landed_files (raw_table, path, run_id, rows, status, landed_at) "
            "VALUES (?, ?, ?, ?, 'pending', ?)",
            [(f.raw_table, str(f.path), f.run_id, f.rows, now) for f in files],
        )

    def pending_landed(self, limit: int | None = None) -> list[LandedFile]:
        """Files not merged yet, oldest first."""
        sql = "SELECT id, raw_table, path, run_id, rows FROM landed_files WHERE status = 'pending' ORDER BY id"
        rows = self._connection().execute(sql + (" LIMIT ?" if limit else ""), [limit] if limit else []).fetchall()
        return [LandedFile(r["raw_table"], r["path"], r["run_id"], r["rows"], r["id"]) for r in rows]

    def landed_summary(self, exclude_run_ids: Iterable[str] = ()) -> dict[str, int]:
        """Pending file count, pending rows and the newest pending id (0s when the queue is empty), leaving
        out files landed by ``exclude_run_ids``."""
        excluded = list(dict.fromkeys(exclude_run_ids))
        not_in = f" AND run_id NOT IN ({', '.join('?' * len(excluded))})" if excluded else ""
        row = self._connection().execute(
            "SELECT count(*) AS files, coalesce(sum(rows), 0) AS rows, coalesce(max(id), 0) AS newest "
            "FROM landed_files WHERE status = 'pending'" + not_in, excluded
        ).fetchone()
        return {"files": row["files"], "rows": row["rows"], "newest": row["newest"]}

    def mark_merged(self, ids: Iterable[int], *, status: str = "merged") -> None:
        """``merged`` once its rows are in raw; ``missing`` when the file was gone (an alert says which)."""
        with self._transaction() as conn:
            conn.executemany(
                "UPDATE landed_files SET status = ?, merged_at = ? WHERE id = ?", [(status, _now_iso(), i) for i in ids]
            )

    def is_landed_path(self, path: str) -> bool:
        return self._connection().execute("SELECT 1 FROM landed_files WHERE path = ?", (path,)).fetchone() is not None

    # -- dead letters --------------------------------------------------------------------------------

    def dead_letter(self, flow: str, source_id: str, reason: str, payload: Any, field_path: str | None = None) -> int:
        """Park a record. One open dead letter per source: a repeat updates it and counts the occurrence."""
        now = _now_iso()
        with self._transaction() as conn:
            conn.execute(
                """INSERT INTO ledger (flow, source_id, status, last_error, updated_at) VALUES (?, ?, 'dead', ?, ?)
                   ON CONFLICT (flow, source_id) DO UPDATE SET status = 'dead', last_error = excluded.last_error,
                     payload_hash = COALESCE(ledger.claim_hash, ledger.payload_hash),
                     claim_token = NULL, claimed_at = NULL, updated_at = excluded.updated_at""",
                (flow, source_id, reason, now),
            )
            return self._upsert_dead_letter(conn, flow, source_id, reason, payload, field_path, now)

    @staticmethod
    def _upsert_dead_letter(
        conn: sqlite3.Connection, flow: str, source_id: str, reason: str, payload: Any, field_path: str | None, now: str
    ) -> int:
        body = json.dumps(payload, default=str)
        row = conn.execute(
            "SELECT id FROM dead_letters WHERE flow = ? AND source_id = ? AND status = 'open'", (flow, source_id)
        ).fetchone()
        if row:
            conn.execute(
                "UPDATE dead_letters SET reason = ?, field_path = ?, payload = ?, occurrences = occurrences + 1, updated_at = ? WHERE id = ?",
                (reason, field_path, body, now, row["id"]),
            )
            return int(row["id"])
        cursor = conn.execute(
            "INSERT INTO dead_letters (flow, source_id, reason, field_path, payload, status, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, 'open', ?, ?)",
            (flow, source_id, reason, field_path, body, now, now),
        )
        return int(cursor.lastrowid)

    def dead_letters(self, flow: str | None = None, status: str | None = "open", source_id: str | None = None) -> list[DeadLetter]:
        clauses, args = [], []
        for column, value in (("flow", flow), ("status", status), ("source_id", source_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._connection().execute(f"SELECT * FROM dead_letters{where} ORDER BY id", args).fetchall()
        return [DeadLetter(**{**dict(r), "payload": json.loads(r["payload"]) if r["payload"] else None}) for r in rows]

    def mark_replayed(self, dead_letter_id: int) -> DeadLetter:
        """An operator fixed the cause: make the source claimable again (attempts reset)."""
        now = _now_iso()
        with self._transaction() as conn:
            row = conn.execute("SELECT flow, source_id, status FROM dead_letters WHERE id = ?", (dead_letter_id,)).fetchone()
            if row is None:
                raise KeyError(f"no dead letter {dead_letter_id}")
            if row["status"] != "open":
                raise ValueError(f"dead letter {dead_letter_id} is {row['status']}, only open ones can be replayed")
            conn.execute("UPDATE dead_letters SET status = 'replayed', updated_at = ? WHERE id = ?", (now, dead_letter_id))
            conn.execute(
                "UPDATE ledger SET status = 'pending', attempts = 0, payload_hash = NULL, updated_at = ? "
                "WHERE flow = ? AND source_id = ? AND status = 'dead'",
                (now, row["flow"], row["source_id"]),
            )
        return self.dead_letters(status=None, source_id=row["source_id"], flow=row["flow"])[-1]

    def requeue(self, flow: str, source_id: str, reason: str) -> bool:
        """Make a record claimable again although the ledger says it was sent (reconciliation found it
        missing in the target). Dead and in-flight rows are left alone (an operator / a live run owns them).
        Returns whether the row changed."""
        now = _now_iso()
        with self._transaction() as conn:
            cursor = conn.execute(
                """INSERT INTO ledger (flow, source_id, status, last_error, updated_at) VALUES (?, ?, 'pending', ?, ?)
                   ON CONFLICT (flow, source_id) DO UPDATE SET status = 'pending', payload_hash = NULL,
                     last_error = excluded.last_error, updated_at = excluded.updated_at
                   WHERE ledger.status IN ('pending', 'done')""",
                (flow, source_id, reason, now),
            )
            return cursor.rowcount == 1

    def resolve(self, dead_letter_id: int) -> None:
        """Close a dead letter by hand (the record was dealt with elsewhere). The ledger row stays dead."""
        with self._transaction() as conn:
            if conn.execute(
                "UPDATE dead_letters SET status = 'resolved', updated_at = ? WHERE id = ?", (_now_iso(), dead_letter_id)
            ).rowcount == 0:
                raise KeyError(f"no dead letter {dead_letter_id}")

    # -- webhook inbox -------------------------------------------------------------------------------

    def inbox_put(self, event_id: str, topic: str, payload: Any) -> bool:
        """Store an event durably before acknowledging the webhook. False for a duplicate event id."""
        with self._transaction() as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO inbox (event_id, topic, payload, status, received_at) VALUES (?, ?, ?, 'new', ?)",
                (event_id, topic, json.dumps(payload, default=str), _now_iso()),
            )
            return cursor.rowcount == 1

    def inbox_take(self, topic: str, limit: int, *, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> list[InboxEvent]:
        """Oldest first; events taken by a run that died come back after ``lease_seconds``."""
        now = time.time()
        with self._transaction() as conn:
            rows = conn.execute(
                "SELECT seq, event_id, topic, payload, received_at FROM inbox WHERE topic = ? "
                "AND (status = 'new' OR (status = 'taken' AND taken_at <= ?)) ORDER BY seq LIMIT ?",
                (topic, now - lease_seconds, limit),
            ).fetchall()
            conn.executemany("UPDATE inbox SET status = 'taken', taken_at = ? WHERE seq = ?", [(now, r["seq"]) for r in rows])
        return [InboxEvent(r["event_id"], r["topic"], json.loads(r["payload"]), r["received_at"]) for r in rows]

    def inbox_ack(self, event_ids: Iterable[str]) -> None:
        """Done. Rows stay (as ``acked``) so a late re-delivery of the same event is still a duplicate."""
        with self._transaction() as conn:
            conn.executemany("UPDATE inbox SET status = 'acked' WHERE event_id = ?", [(e,) for e in event_ids])

    def inbox_release(self, event_ids: Iterable[str]) -> None:
        with self._transaction() as conn:
            conn.executemany(
                "UPDATE inbox SET status = 'new', taken_at = NULL WHERE event_id = ? AND status = 'taken'",
                [(e,) for e in event_ids],
            )

    def inbox_prune(self, older_than_seconds: float) -> int:
        """Forget acked events older than this; keep it longer than Shopify's redelivery horizon (days)."""
        cutoff = datetime.fromtimestamp(time.time() - older_than_seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        with self._transaction() as conn:
            return conn.execute("DELETE FROM inbox WHERE status = 'acked' AND received_at < ?", (cutoff,)).rowcount

    def inbox_counts(self, topic: str | None = None) -> dict[str, int]:
        sql, args = "SELECT status, COUNT(*) AS n FROM inbox", []
        if topic:
            sql, args = sql + " WHERE topic = ?", [topic]
        return {r["status"]: r["n"] for r in self._connection().execute(sql + " GROUP BY status", args)}

    # -- launch leases -------------------------------------------------------------------------------

    def take_launch_lease(self, flow: str, holder: str, ttl_seconds: float = LAUNCH_LEASE_SECONDS) -> bool:
        """The right to launch ``flow``'s next run: True if free, expired or already ``holder``'s."""
        now = time.time()
        with self._transaction() as conn:
            row = conn.execute("SELECT holder, expires_at FROM launch_leases WHERE flow = ?", (flow,)).fetchone()
            if row is not None and row["holder"] != holder and row["expires_at"] > now:
                return False
            conn.execute(
                "INSERT INTO launch_leases (flow, holder, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT(flow) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at",
                (flow, holder, now + ttl_seconds),
            )
            return True

    def launch_lease_holder(self, flow: str) -> str | None:
        row = self._connection().execute(
            "SELECT holder FROM launch_leases WHERE flow = ? AND expires_at > ?", (flow, time.time())
        ).fetchone()
        return None if row is None else row["holder"]

    def release_launch_lease(self, flow: str, holder: str | None = None) -> None:
        """Release it (only ``holder``'s, when given): the run exists now, Dagster lists it in flight."""
        with self._transaction() as conn:
            if holder is None:
                conn.execute("DELETE FROM launch_leases WHERE flow = ?", (flow,))
            else:
                conn.execute("DELETE FROM launch_leases WHERE flow = ? AND holder = ?", (flow, holder))

    # -- findings (reconciliation) ------------------------------------------------------------------

    def record_findings(
        self, check_name: str, partition: str, seen: Iterable[SeenFinding], *, not_judged: Iterable[str] = ()
    ) -> list[TrackedFinding]:
        """One run of ``check_name`` over ``partition``, in one transaction: what it saw is open (a repeat
        counts, a healed one re-opens); an open finding it did not see is healed now — unless its source is
        in ``not_judged`` (the run left it out, e.g. still being written). Returns the partition's findings."""
        now = _now_iso()
        seen = list(seen)
        seen_keys = {(f.kind, f.source_id) for f in seen}
        skip = set(not_judged)
        with self._transaction() as conn:
            conn.executemany(
                """INSERT INTO findings (check_name, partition, kind, source_id, status, detail, data, first_seen_at,
                     opened_at, last_seen_at) VALUES (?, ?, ?, ?, 'open', ?, ?, ?, ?, ?)
                   ON CONFLICT (check_name, partition, kind, source_id) DO UPDATE SET status = 'open',
                     detail = excluded.detail, data = excluded.data, last_seen_at = excluded.last_seen_at,
                     opened_at = CASE WHEN findings.status = 'healed' THEN excluded.opened_at ELSE findings.opened_at END,
                     healed_at = NULL, times_seen = findings.times_seen + 1""",
                [(check_name, partition, f.kind, f.source_id, f.detail, json.dumps(f.data, default=str), now, now, now)
                 for f in seen],
            )
            still_open = conn.execute(
                "SELECT kind, source_id FROM findings WHERE check_name = ? AND partition = ? AND status = 'open'",
                (check_name, partition),
            ).fetchall()
            conn.executemany(
                "UPDATE findings SET status = 'healed', healed_at = ? WHERE check_name = ? AND partition = ? "
                "AND kind = ? AND source_id = ?",
                [(now, check_name, partition, r["kind"], r["source_id"]) for r in still_open
                 if (r["kind"], r["source_id"]) not in seen_keys and r["source_id"] not in skip],
            )
        return self.findings(check_name, partition=partition, status=None)

    def findings(
        self, check_name: str, *, partition: str | None = None, status: str | None = "open"
    ) -> list[TrackedFinding]:
        sql, args = "SELECT * FROM findings WHERE check_name = ?", [check_name]
        for column, value in (("partition", partition), ("status", status)):
            if value is not None:
                sql += f" AND {column} = ?"
                args.append(value)
        rows = self._connection().execute(sql + " ORDER BY partition, kind, source_id", args).fetchall()
        return [TrackedFinding(**{**dict(r), "data": json.loads(r["data"]) if r["data"] else None}) for r in rows]

    def partitions_with_open_findings(self, check_name: str) -> list[str]:
        rows = self._connection().execute(
            "SELECT DISTINCT partition FROM findings WHERE check_name = ? AND status = 'open' ORDER BY partition",
            (check_name,),
        )
        return [r["partition"] for r in rows]

    # -- alerts --------------------------------------------------------------------------------------

    def record_alert(self, kind: str, message: str, run_id: str | None = None) -> int:
        with self._transaction() as conn:
            return int(
                conn.execute(
                    "INSERT INTO alerts (kind, message, run_id, created_at) VALUES (?, ?, ?, ?)",
                    (kind, message, run_id, _now_iso()),
                ).lastrowid
            )

    def alerts(self, kind: str | None = None) -> list[dict]:
        sql, args = "SELECT * FROM alerts", []
        if kind:
            sql, args = sql + " WHERE kind = ?", [kind]
        return [dict(r) for r in self._connection().execute(sql + " ORDER BY id", args)]
