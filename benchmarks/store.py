"""The durable store of trial results: one SQLite row per trial.

Rows are keyed by ``Trial.key``, a hash of everything that determines the
result, so a rerun skips what is done and a grown grid trains only what is
new. Each row is written in its own transaction as soon as its trial
finishes: a killed run loses at most the trials still in flight, and never
leaves a half-written row. An ``ok`` row is never overwritten; a ``failed``
row is replaced when the trial is retried.

Runs that share a store coordinate through *claims*: a runner claims a trial
before training it, and skips trials claimed by another live runner. A claim
whose process is gone (killed, crashed) no longer counts.
"""

import json
import logging
import os
import socket
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.errors import AblateError
from benchmarks.grids import Trial

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

DEFAULT_STORE = Path("results") / "ablate.sqlite"
SCHEMA = "ablate-store-1"
STATUSES = ("ok", "failed", "diverged")
# Final metrics every row may carry; absent ones are stored as NULL.
METRICS = (
    "train_accuracy",
    "test_accuracy",
    "val_accuracy",
    "train_loss",
    "train_digit_accuracy",
    "test_digit_accuracy",
)
STALE_CLAIM_SECONDS = 24 * 3600

_TABLES = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    key TEXT PRIMARY KEY,
    task TEXT NOT NULL,
    variant TEXT NOT NULL,
    seed INTEGER NOT NULL,
    factors TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    metrics TEXT NOT NULL,
    curves TEXT,
    train_seconds REAL,
    num_params INTEGER,
    threads INTEGER,
    stack_size INTEGER,
    state BLOB,
    provenance TEXT NOT NULL,
    finished_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS claims (
    key TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started REAL NOT NULL,
    claimed_at REAL NOT NULL
);
"""
# Insert a trial, or replace its row unless that row is ok.
_UPSERT = """
INSERT INTO trials VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
ON CONFLICT(key) DO UPDATE SET
    status=excluded.status, error=excluded.error, metrics=excluded.metrics,
    curves=excluded.curves, train_seconds=excluded.train_seconds,
    num_params=excluded.num_params, threads=excluded.threads,
    stack_size=excluded.stack_size, state=excluded.state,
    provenance=excluded.provenance, finished_at=excluded.finished_at
WHERE trials.status != 'ok'
"""


class Store:
    """An open results store. Use as a context manager, or call ``close()``."""

    def __init__(self, path: str | os.PathLike = DEFAULT_STORE) -> None:
        self.path = Path(path)
        self._check_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise AblateError(
                f"store {self.path} cannot be created: {exc.strerror}; pass a "
                "writable --store path"
            ) from None
        try:
            self.db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            self.db.execute("PRAGMA busy_timeout = 60000")
            # One transaction checks the schema and creates it, so a run that
            # opens the store while another creates it never sees the tables
            # without their schema marker (and refuses the store as foreign).
            with self._transaction():
                self._check_schema()
                for statement in _TABLES.split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA,)
                )
            self._use_wal()
            self.db.execute("PRAGMA synchronous = FULL")
        except sqlite3.DatabaseError as exc:
            raise AblateError(
                f"store {self.path} cannot be used: {exc}; pass another --store"
            ) from None
        self.owner = (socket.gethostname(), os.getpid(), _process_start(os.getpid()))

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def _use_wal(self, timeout: float = 60) -> None:
        """Switch to write-ahead logging, waiting out other connections.

        SQLite answers "database is locked" at once, without its busy
        timeout, when two connections switch a new database's journal mode
        at the same moment: retry until ``timeout`` seconds have passed.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _check_path(self) -> None:
        """Refuse, untouched, a path that is a directory or another file type."""
        if self.path.is_dir():
            raise AblateError(
                f"store {self.path} is a directory; pass a file path such as "
                f"{self.path / 'ablate.sqlite'}"
            )
        if self.path.is_file() and self.path.stat().st_size > 0:
            with self.path.open("rb") as f:
                header = f.read(16)
            if header != b"SQLite format 3\x00":
                raise AblateError(
                    f"store {self.path} is not an SQLite database; refusing to "
                    "touch it, pass another --store"
                )

    def _check_schema(self) -> None:
        tables = {
            row[0]
            for row in self.db.execute(
                "SELECT name FROM sqlite_master WHERE type='table'"
            )
        }
        if not tables:
            return
        marker = None
        if "meta" in tables:
            row = self.db.execute(
                "SELECT value FROM meta WHERE name='schema'"
            ).fetchone()
            marker = row[0] if row else None
        if marker != SCHEMA:
            raise AblateError(
                f"store {self.path} is a database of another program or version "
                f"(tables: {', '.join(sorted(tables))}); refusing to touch it, "
                "pass another --store"
            )

    # Writing

    def put(self, trial: Trial, result: dict[str, Any], provenance: dict) -> None:
        """Store one finished trial and release its claim (see ``put_many``)."""
        self.put_many([(trial, result, provenance)])

    def put_many(self, records: list[tuple[Trial, dict[str, Any], dict]]) -> None:
        """Store finished trials and release their claims, in one transaction.

        Each record is (trial, result, provenance); ``result`` holds
        ``status``, optional ``error``, metrics, ``curves``, ``train_seconds``,
        ``num_params``, ``threads``, ``stack_size`` and an optional ``state``
        (bytes).
        """
        rows = [self._row(*record) for record in records]
        with self._transaction():
            for row in rows:
                self.db.execute(_UPSERT, row)
                self.db.execute("DELETE FROM claims WHERE key = ?", (row[0],))

    @staticmethod
    def _row(trial: Trial, result: dict[str, Any], provenance: dict) -> tuple:
        status = result["status"]
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        metrics = {name: _finite_or_none(result.get(name)) for name in METRICS}
        return (
            trial.key,
            trial.task,
            trial.variant,
            trial.seed,
            json.dumps(trial.factors, sort_keys=True),
            status,
            result.get("error"),
            json.dumps(metrics),
            json.dumps(result.get("curves"), allow_nan=True),
            result.get("train_seconds"),
            result.get("num_params"),
            result.get("threads"),
            result.get("stack_size", 1),
            result.get("state"),
            json.dumps(provenance, sort_keys=True),
            time.time(),
        )

    def claim(self, keys: Iterable[str]) -> set[str]:
        """Claim the given trials for this process; returns the keys it got.

        A key is refused when another live runner holds it or when its trial
        is already stored with status ``ok``.
        """
        keys = list(keys)
        got = set()
        host, pid, started = self.owner
        with self._transaction():
            for key in keys:
                if self._done(key):
                    continue
                holder = self.db.execute(
                    "SELECT host, pid, started, claimed_at FROM claims WHERE key = ?",
                    (key,),
                ).fetchone()
                if holder and tuple(holder[:3]) != self.owner and _alive(*holder):
                    continue
                self.db.execute(
                    "INSERT OR REPLACE INTO claims VALUES (?,?,?,?,?)",
                    (key, host, pid, started, time.time()),
                )
                got.add(key)
        return got

    def release_claims(self) -> None:
        """Drop every claim this process still holds (trials it did not finish)."""
        host, pid, started = self.owner
        with self._transaction():
            self.db.execute(
                "DELETE FROM claims WHERE host = ? AND pid = ? AND started = ?",
                (host, pid, started),
            )

    def claimed_elsewhere(self, keys: Iterable[str]) -> set[str]:
        """The keys held by another live runner."""
        held = set()
        for key in keys:
            holder = self.db.execute(
                "SELECT host, pid, started, claimed_at FROM claims WHERE key = ?",
                (key,),
            ).fetchone()
            if holder and tuple(holder[:3]) != self.owner and _alive(*holder):
                held.add(key)
        return held

    def _done(self, key: str) -> bool:
        row = self.db.execute("SELECT status FROM trials WHERE key = ?", (key,))
        found = row.fetchone()
        return found is not None and found[0] == "ok"

    def _transaction(self):
        return _Transaction(self.db)

    # Reading

    def statuses(self, keys: Iterable[str] | None = None) -> dict[str, str]:
        """``{key: status}`` of the stored trials (among ``keys`` if given)."""
        rows = self.db.execute("SELECT key, status FROM trials").fetchall()
        statuses = dict(rows)
        if keys is None:
            return statuses
        return {key: statuses[key] for key in keys if key in statuses}

    def mean_seconds(self) -> dict[str, float]:
        """Mean training seconds per variant over its ok trials."""
        rows = self.db.execute(
            "SELECT variant, AVG(train_seconds) FROM trials "
            "WHERE status = 'ok' GROUP BY variant"
        )
        return {variant: seconds for variant, seconds in rows if seconds is not None}

    def results(
        self, keys: Iterable[str] | None = None, with_state: bool = False
    ) -> "pd.DataFrame":
        """One tidy row per stored trial (among ``keys`` if given).

        Columns: key, task, variant, seed, status, error, one column per factor
        (NaN where a variant lacks it), the metrics (fractions), train_seconds,
        num_params, threads, stack_size, curves (a dict of per-epoch lists),
        provenance columns (``git_commit``...), and ``state`` when asked.
        """
        columns = (
            "key, task, variant, seed, factors, status, error, metrics, curves, "
            "train_seconds, num_params, threads, stack_size, provenance"
        )
        if with_state:
            columns += ", state"
        # Not in insertion order: a report must not depend on the order in
        # which trials finished (bootstrap resamples follow row order), and
        # settings with equal results must get equal intervals (seed order).
        order = "task, variant, seed, key"
        rows = self.db.execute(f"SELECT {columns} FROM trials ORDER BY {order}")
        wanted = set(keys) if keys is not None else None
        records = []
        for row in rows:
            record = dict(
                zip([c.strip() for c in columns.split(",")], row, strict=True)
            )
            if wanted is not None and record["key"] not in wanted:
                continue
            factors = json.loads(record.pop("factors"))
            metrics = json.loads(record.pop("metrics"))
            provenance = json.loads(record.pop("provenance"))
            record["curves"] = json.loads(record["curves"] or "null")
            records.append({**record, **factors, **metrics, **provenance})
        import pandas as pd  # here: workers and `ablate run` never need it

        return pd.DataFrame.from_records(records)


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, or ``ROLLBACK`` on an exception."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, *rest) -> None:
        if exc_type is None:
            self.db.execute("COMMIT")
        elif self.db.in_transaction:
            # NOTE: after some errors (a full disk) SQLite has rolled back
            # already, and a second ROLLBACK would hide the error's cause.
            self.db.execute("ROLLBACK")


def _finite_or_none(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if value == value and abs(value) != float("inf") else None


def _process_start(pid: int) -> float:
    """When process ``pid`` started (clock ticks since boot on Linux), or 0."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    return float(stat.rsplit(")", 1)[1].split()[19])


def _alive(host: str, pid: int, started: float, claimed_at: float) -> bool:
    """Whether the runner that made a claim may still be running."""
    if host != socket.gethostname():
        return time.time() - claimed_at < STALE_CLAIM_SECONDS
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return started == 0 or _process_start(pid) == started
