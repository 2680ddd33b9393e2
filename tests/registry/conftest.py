"""Registry fixtures: a GO review on the embedded SQLite registry, and a real `mlflow server`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.registry._scenario import GoReview, build_go_review


@pytest.fixture(scope="package", autouse=True)
def server_keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One server key for the registry tests (WORKBENCH_KEYS), as on a prepared server."""
    from workbench.report import init_keys

    keys = tmp_path_factory.mktemp("registry-keys") / "keys"
    init_keys(keys)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORKBENCH_KEYS", str(keys))
        yield keys


@pytest.fixture(scope="module")
def go(tmp_path_factory: pytest.TempPathFactory, server_keys: Path) -> GoReview:
    root = tmp_path_factory.mktemp("registry-go")
    return build_go_review(root, f"sqlite:///{root}/mlflow.db", keys=server_keys)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (the server's gunicorn/uvicorn workers), from /proc."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _descendants(pid: int) -> list[int]:
    out = []
    for child in _children(pid):
        out += [child, *_descendants(child)]
    return out


def _stop(proc: subprocess.Popen) -> None:
    """Stop the server by its PID and its child processes (found by parent PID), children first."""
    pids = [proc.pid, *_descendants(proc.pid)]
    for pid in reversed(pids):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `mlflow server` on 127.0.0.1 (SQLite backend, local artifacts), stopped at the end."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    mlflow = Path(sys.executable).with_name("mlflow")
    cmd = [str(mlflow) if mlflow.exists() else "mlflow", "server",
           "--backend-store-uri", f"sqlite:///{root}/server.db", "--default-artifact-root", str(root / "artifacts"),
           "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    log = (root / "server.log").open("wb")
    # The server's job runner (GenAI background jobs, seven huey consumers) is not used here and
    # would double the start-up time on a small machine.
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=root, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited ({proc.returncode}): {(root / 'server.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"mlflow server did not answer /health in 120 s: {(root / 'server.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        _stop(proc)
        log.close()
