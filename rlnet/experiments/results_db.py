"""The results table that gathers many runs: one SQLite file, safe under concurrent writers.

Each run's own ``metrics.json`` stays the source of truth; this table indexes runs (their
parameters, status, error and a copy of their measures) so that a sweep knows what is done and
``report`` can read a grid at once. SQLite transactions make concurrent ``record`` calls from many
processes lose no row, and a writer killed mid-transaction leaves the previous state readable.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from pathlib import Path
from typing import Any

from rlnet.experiments.csv_table import write_csv

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id       TEXT PRIMARY KEY,
    sweep        TEXT NOT NULL,
    params       TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed', 'diverged')),
    error        TEXT,
    run_dir      TEXT,
    metrics      TEXT,
    started      REAL,
    finished     REAL,
    host         TEXT,
    owner        TEXT
)
"""
COLUMNS = ("run_id", "sweep", "params", "status", "error", "run_dir", "metrics", "started", "finished", "host",
           "owner")
FINISHED = ("ok", "diverged")

STATUSES = ("running", "ok", "failed", "diverged")


class ResultsDB:
    """A results table at ``path`` (created if missing)."""

    def __init__(self, path: str | Path, timeout: float = 120.0) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise ValueError(f"results table {self.path} is a directory, not a file")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ValueError(f"results table {self.path}: cannot create its directory ({err})") from err
        self.timeout = timeout
        con = self._raw()
        try:
            self._set_wal(con)  # readers never block the writer
            con.execute(SCHEMA)
            have = {r[1] for r in con.execute("PRAGMA table_info(runs)")}
            if "owner" not in have:  # a table written before runs were claimed
                con.execute("ALTER TABLE runs ADD COLUMN owner TEXT")
        finally:
            con.close()

    def _set_wal(self, con: sqlite3.Connection) -> None:
        """Switch the file to WAL, retrying for up to ``timeout`` s: SQLite answers "database is
        locked" at once, without its busy handler, when two processes create one table together
        (two runners started on one new folder)."""
        deadline, wait = time.monotonic() + self.timeout, 0.01
        while True:
            try:
                if con.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    con.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as err:
                if "locked" not in str(err) or time.monotonic() > deadline:
                    raise
                time.sleep(wait)
                wait = min(2 * wait, 0.5)

    def _raw(self) -> sqlite3.Connection:
        try:
            con = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            con.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            con.execute("SELECT count(*) FROM sqlite_master")
            return con
        except sqlite3.DatabaseError as err:
            raise ValueError(f"results table {self.path} is not a readable SQLite file: {err}") from err

    def _connect(self) -> _Tx:
        return _Tx(self._raw(), self.path)

    def record(self, run_id: str, sweep: str, params: dict[str, Any], status: str,
               error: str | None = None, run_dir: str | None = None, metrics: dict | None = None,
               started: float | None = None, owner: str | None = None) -> bool:
        """Insert or replace one run's row in a single transaction; a finished row (``ok``,
        ``diverged``) is never replaced by an unfinished one (``running``, ``failed``). Returns
        whether the row was written."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        row = (run_id, sweep, json.dumps(params, sort_keys=True), status, error, run_dir,
               None if metrics is None else json.dumps(metrics), started,
               None if status == "running" else time.time(), socket.gethostname(), owner)
        update = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:])
        with self._connect() as con:
            cur = con.execute(f"INSERT INTO runs ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
                              f"ON CONFLICT(run_id) DO UPDATE SET {update} "
                              f"WHERE runs.status NOT IN ('ok', 'diverged') OR excluded.status IN ('ok', 'diverged')",
                              row)
            return cur.rowcount > 0

    def claim(self, run_id: str, sweep: str, params: dict[str, Any], owner: str, run_dir: str | None = None) -> bool:
        """Mark a run ``running`` by ``owner`` (``host:pid``) in one transaction, unless it is finished
        or running under another live owner: of two runners on one table, exactly one gets each run."""
        with self._connect() as con:
            got = con.execute("SELECT status, owner FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if got is not None:
                status, who = got
                if status in FINISHED or (status == "running" and who and who != owner and owner_alive(who)):
                    return False
            con.execute(f"INSERT OR REPLACE INTO runs ({', '.join(COLUMNS)}) VALUES "
                        f"({', '.join('?' * len(COLUMNS))})",
                        (run_id, sweep, json.dumps(params, sort_keys=True), "running", None, run_dir, None,
                         time.time(), None, socket.gethostname(), owner))
        return True

    def rows(self, sweep: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        """All rows (optionally of one sweep and/or status), JSON fields decoded."""
        q, args = "SELECT * FROM runs", []
        conds = []
        if sweep is not None:
            conds.append("sweep = ?")
            args.append(sweep)
        if status is not None:
            conds.append("status = ?")
            args.append(status)
        if conds:
            q += " WHERE " + " AND ".join(conds)
        with self._connect() as con:
            cur = con.execute(q + " ORDER BY run_id", args)
            names = [d[0] for d in cur.description]
            out = []
            for values in cur.fetchall():
                r = dict(zip(names, values, strict=True))
                r["params"] = json.loads(r["params"])
                r["metrics"] = None if r["metrics"] is None else json.loads(r["metrics"])
                out.append(r)
        return out

    def finished_ids(self, sweep: str) -> set[str]:
        """Runs of ``sweep`` that need not run again (finished, successfully or diverged)."""
        return {r["run_id"] for r in self.rows(sweep) if r["status"] in FINISHED}

    def export_csv(self, path: str | Path) -> Path:
        """One CSV row per run (params and summary flattened), for pandas users."""
        rows = self.rows()
        flat = []
        for r in rows:
            f = {k: r[k] for k in ("run_id", "sweep", "status", "error", "run_dir")}
            f.update({f"param.{k}": v for k, v in r["params"].items()})
            summary = (r["metrics"] or {}).get("summary", {})
            f.update({f"summary.{k}": v for k, v in summary.items()})
            flat.append(f)
        return write_csv(flat, path)


def owner_alive(owner: str) -> bool:
    """Whether the process ``host:pid`` still runs; an owner on another host counts as alive (it
    cannot be checked from here)."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Tx:
    """A connection used as ``with``: ``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ``ROLLBACK``), then close."""

    def __init__(self, con: sqlite3.Connection, path: Path | None = None) -> None:
        self.con, self.path = con, path

    def __enter__(self) -> sqlite3.Connection:
        self.con.execute("BEGIN IMMEDIATE")
        return self.con

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self.con.execute("ROLLBACK" if exc_type else "COMMIT")
        except sqlite3.DatabaseError:
            if exc_type is None:
                raise
        finally:
            self.con.close()
        if exc_type is sqlite3.DatabaseError:  # not a lock (OperationalError): the file itself is damaged
            raise ValueError(f"results table {self.path} is damaged ({exc})") from exc
