"""Results survive: concurrent writers lose no row; a writer SIGKILLed mid-transaction or mid-stream
leaves a readable, intact table; a damaged or misplaced table is one clear ValueError."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest
from conftest import REPO

from rlnet.experiments.results_db import ResultsDB

WORKERS, ROWS = 4, 40


def _python(code: str, *args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], cwd=REPO,
                            env={"PYTHONPATH": str(REPO)}, text=True, **kw)


def test_concurrent_writers_lose_no_row(tmp_path):
    db_path, go = tmp_path / "results.sqlite", tmp_path / "go"
    ResultsDB(db_path)
    code = """
        import os, sys, time
        from rlnet.experiments.results_db import ResultsDB
        db_path, go, w, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        db = ResultsDB(db_path)
        while not os.path.exists(go):  # start together, to collide
            time.sleep(0.005)
        for i in range(n):
            db.record(f"w{w}-{i:03d}", "grid", {"worker": w, "i": i}, "ok", metrics={"summary": {"x": i}})
    """
    procs = [_python(code, str(db_path), str(go), str(w), str(ROWS)) for w in range(WORKERS)]
    time.sleep(0.5)
    go.touch()
    assert all(p.wait(timeout=300) == 0 for p in procs)
    rows = ResultsDB(db_path).rows("grid")
    assert sorted(r["run_id"] for r in rows) == sorted(f"w{w}-{i:03d}" for w in range(WORKERS) for i in range(ROWS))
    assert all(r["metrics"]["summary"]["x"] == r["params"]["i"] for r in rows)


def test_writer_killed_inside_a_transaction_leaves_readable_table(tmp_path):
    db_path = tmp_path / "results.sqlite"
    db = ResultsDB(db_path)
    for i in range(5):
        db.record(f"done-{i}", "grid", {"i": i}, "ok")
    code = """
        import sys, time
        from rlnet.experiments.results_db import ResultsDB
        db = ResultsDB(sys.argv[1])
        with db._connect() as con:  # one long transaction, never committed
            for i in range(2000):
                con.execute("INSERT INTO runs (run_id, sweep, params, status) VALUES (?, 'grid', '{}', 'running')",
                            (f"half-{i}",))
            print("inside", flush=True)
            time.sleep(120)
    """
    p = _python(code, str(db_path), stdout=subprocess.PIPE)
    assert p.stdout.readline().strip() == "inside"
    p.send_signal(signal.SIGKILL)
    assert p.wait(timeout=60) == -signal.SIGKILL

    again = ResultsDB(db_path, timeout=5)
    assert [r["run_id"] for r in again.rows()] == [f"done-{i}" for i in range(5)]  # nothing half-written
    again.record("after", "grid", {}, "ok")  # the killed writer's lock is gone
    assert len(again.rows()) == 6
    with sqlite3.connect(db_path) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_writer_killed_mid_stream_keeps_every_committed_row_whole(tmp_path):
    """A writer streaming one-row transactions is killed at an arbitrary moment: the table is
    intact and holds exactly rows 0..k-1, each complete."""
    db_path = tmp_path / "results.sqlite"
    ResultsDB(db_path)
    code = """
        import sys
        from rlnet.experiments.results_db import ResultsDB
        db = ResultsDB(sys.argv[1])
        print("ready", flush=True)
        i = 0
        while True:
            db.record(f"r{i:06d}", "grid", {"i": i, "pad": "x" * 2000}, "ok", metrics={"i": i})
            i += 1
    """
    p = _python(code, str(db_path), stdout=subprocess.PIPE)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(1.0)
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=60)
    rows = ResultsDB(db_path).rows()
    assert len(rows) > 0
    assert [r["params"]["i"] for r in rows] == list(range(len(rows)))
    assert all(r["metrics"] == {"i": r["params"]["i"]} and len(r["params"]["pad"]) == 2000 for r in rows)
    with sqlite3.connect(db_path) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_bad_results_files_are_one_clear_error(tmp_path):
    (tmp_path / "garbage.sqlite").write_text("this is not a database\n" * 100)
    with pytest.raises(ValueError, match=r"garbage\.sqlite is not a readable SQLite file"):
        ResultsDB(tmp_path / "garbage.sqlite").rows()
    (tmp_path / "adir").mkdir()
    with pytest.raises(ValueError, match="adir is a directory"):
        ResultsDB(tmp_path / "adir")
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ValueError, match="cannot create its directory"):
        ResultsDB(tmp_path / "afile" / "results.sqlite")
    good = ResultsDB(tmp_path / "good.sqlite")
    for i in range(200):
        good.record(f"r{i}", "grid", {"pad": "y" * 500}, "ok")
    with sqlite3.connect(tmp_path / "good.sqlite") as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = (tmp_path / "good.sqlite").read_bytes()
    (tmp_path / "truncated.sqlite").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"truncated\.sqlite"):
        ResultsDB(tmp_path / "truncated.sqlite").rows()
