"""Two processes writing audited changes to one store at the same time."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from itertools import pairwise
from pathlib import Path

import pytest

from workbench.store import _store as store_module
from workbench.errors import StoreError
from workbench.store import Store

PER_PROCESS = 500

_WRITER = textwrap.dedent(
    """
    import sqlite3
    import sys
    import time
    from workbench.store import Store

    path, name, review, n, other = (sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]),
                                    sys.argv[5])
    # SQLite's busy handler does not queue writers fairly: one process can commit all of its
    # changes while the other sleeps. Neither may run more than LEAD changes ahead of the
    # other, so the two really write at the same time on any scheduler.
    LEAD = 20
    reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def written(actor):
        return reader.execute("SELECT count(*) FROM audit_log WHERE actor = ?", (actor,)).fetchone()[0]

    with Store.open(path) as store:
        print("ready", flush=True)
        sys.stdin.readline()  # start together
        version = None
        for i in range(n):
            while written(other) < i - LEAD:
                time.sleep(0.001)
            if i % 2:
                store.save_decision(review, {"outcome": "GO", "writer": name, "i": i}, actor=name)
            else:
                version = store.save_draft(review, "q", "1", name, {"i": i},
                                           expected_version=version).version
    """
)


@pytest.mark.slow
def test_two_processes_write_500_audited_changes_each(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    with Store.open(path) as store:
        review = store.upsert_review("r", manifest_path="m", evidence_digest="e", actor="cli:t")
    root = Path(__file__).resolve().parents[2]
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(path), name, review, str(PER_PROCESS),
                          other],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, cwd=root)
        for name, other in (("ann", "ben"), ("ben", "ann"))
    ]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"  # type: ignore[union-attr]
    for p in procs:
        p.stdin.write("go\n")  # type: ignore[union-attr]
        p.stdin.flush()  # type: ignore[union-attr]
    results = [p.communicate(timeout=120) for p in procs]
    for p, (_, err) in zip(procs, results):
        assert p.returncode == 0, err
        assert err == ""
    with Store.open(path) as store:
        assert store.audit_count() == 1 + 2 * PER_PROCESS
        result = store.verify_audit()
        assert result.ok and result.checked == 1 + 2 * PER_PROCESS
        seqs = [e.seq for e in store.audit_entries()]
        assert seqs == list(range(1, 2 + 2 * PER_PROCESS))
        actors = [e.actor for e in store.audit_entries()[1:]]
        # Interleaved, not one writer after the other: both wrote while the other was writing.
        switches = sum(a != b for a, b in pairwise(actors))
        assert actors.count("ann") == actors.count("ben") == PER_PROCESS
        assert switches >= 20  # blocks of at most 2 * LEAD + 1 changes
        for name in ("ann", "ben"):
            assert store.get_response(review, "q", name).version == PER_PROCESS // 2  # type: ignore[union-attr]
        assert len(store.list_decisions(review)) == PER_PROCESS


def test_a_writer_blocked_past_the_busy_timeout_gets_a_clear_error_and_loses_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 200)
    path = tmp_path / "w.db"
    with Store.open(path) as store:
        review = store.upsert_review("r", manifest_path="m", evidence_digest="e", actor="cli:t")
        saved = store.save_draft(review, "q", "1", "ann", {"answer": "first"}, expected_version=None)
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        try:
            with pytest.raises(StoreError, match=r"w\.db: the store is busy: .* 0\.2 s; nothing was saved, try again"):
                store.save_draft(review, "q", "1", "ann", {"answer": "second"}, expected_version=saved.version)
        finally:
            other.execute("ROLLBACK")
            other.close()
        kept = store.get_response(review, "q", "ann")
        assert kept is not None and kept.version == saved.version and kept.answers == {"answer": "first"}
        again = store.save_draft(review, "q", "1", "ann", {"answer": "second"}, expected_version=saved.version)
        assert again.version == saved.version + 1 and store.verify_audit().ok
