"""Loading a model from the MLflow registry against loading the same model from a file.

Run: ``.venv/bin/python benchmarks/bench_registry.py [--trees 200] [--repeats 5] [--server URL]``

Figures printed (median of ``--repeats`` runs, seconds):
- file: ``load_model`` of a skops file (SHA-256 + skops allow-list check + load);
- registry (embedded SQLite, and a tracking server with ``--server``): the same through
  ``load_model`` with ``uri: models:/NAME@champion`` — resolve the alias, download the artifact
  folder into a private temporary folder, hash every file, load through the same skops loader —
  and the three registry steps alone (resolve, download, hash).
The first registry call of a process also opens the MLflow client (and, for SQLite, checks the
schema): reported separately as "first call".
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbench.artefacts import ModelEntry, load_model  # noqa: E402
from workbench.registry import Registry  # noqa: E402

TRUSTED = ("sklearn.tree._tree.Tree",)
FEATURES = [f"x{i}" for i in range(10)]


def _model(trees: int, folder: Path) -> Path:
    import skops.io as sio
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(5000, len(FEATURES))), columns=FEATURES)
    y = (X["x0"] + X["x1"] * X["x2"] + rng.normal(size=len(X)) > 0).astype(int)
    model = RandomForestClassifier(n_estimators=trees, max_depth=8, random_state=0).fit(X, y)
    path = folder / "model.skops"
    sio.dump(model, path)
    return path


def _median(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _bench_registry(label: str, uri: str, path: Path, repeats: int, tmp: Path) -> None:
    registry = Registry(uri)
    t = time.perf_counter()
    folder = tmp / f"register-{label}"
    folder.mkdir()
    (folder / path.name).write_bytes(path.read_bytes())
    version = registry.register_folder("bench-model", folder, artifact_root=tmp / "mlartifacts"
                                       if uri.startswith("sqlite:") else None)
    registry.set_alias("bench-model", "champion", version.version)
    print(f"{label}: register one version {time.perf_counter() - t:.2f} s")
    entry = ModelEntry(uri="models:/bench-model@champion", trusted_types=TRUSTED)

    def via_uri() -> None:
        load_model(entry, role="candidate", base_dir=tmp, task="binary", features=FEATURES, positive_label=1,
                   registry_uri=uri)

    t = time.perf_counter()
    via_uri()
    print(f"{label}: first call (opens the client) {time.perf_counter() - t:.3f} s")
    resolve = _median(lambda: registry.resolve("models:/bench-model@champion"), repeats)
    n = [0]

    def download() -> None:
        n[0] += 1
        registry.download(version, tmp / f"dl-{label}-{n[0]}")

    dl = _median(download, repeats)
    from workbench.registry import hash_folder

    hashing = _median(lambda: hash_folder(tmp / f"dl-{label}-1"), repeats)
    total = _median(via_uri, repeats)
    print(f"{label}: resolve {resolve * 1000:.1f} ms · download {dl * 1000:.1f} ms · hash {hashing * 1000:.1f} ms · "
          f"resolve+download+hash+load {total:.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trees", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--server", default=None, help="also measure against this MLflow tracking server")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        path = _model(args.trees, tmp)
        print(f"model: RandomForest, {args.trees} trees, skops file {path.stat().st_size / 1e6:.1f} MB")
        entry = ModelEntry(path=path, trusted_types=TRUSTED)

        def from_file() -> None:
            load_model(entry, role="candidate", base_dir=tmp, task="binary", features=FEATURES, positive_label=1)

        from_file()  # warm-up: the first call imports skops and scikit-learn
        file_s = _median(from_file, args.repeats)
        print(f"file: hash+load {file_s:.3f} s")
        _bench_registry("sqlite", f"sqlite:///{tmp / 'mlflow.db'}", path, args.repeats, tmp)
        if args.server:
            _bench_registry("server", args.server, path, args.repeats, tmp)


if __name__ == "__main__":
    main()
