"""`workbench demo DIR`: a complete, deterministic loan-approval review scenario.

The scenario is built so that the decision is not a trivial GO: the candidate (gradient
boosting) ranks applications clearly better than the production baseline (logistic regression),
but it learns a historical underwriting bias against thin-file part-time and contract
applicants — mostly the young — much more sharply than the baseline, so it fails the
four-fifths rule for ``age_band``.

The causal story (fully documented in docs/DEMO.md and in ``workbench.demo``):

- ``sex`` and ``age_band`` drive employment type, credit-history length and income; they are
  *not* model inputs.
- A latent repayment score depends non-linearly on income, debt ratio, credit history, open
  lines, loan-to-income, employment and purpose.
- The historical label ``approved`` is repayment filtered by biased underwriters: creditworthy
  applicants with a non-standard file (part-time/contract work with under four years of credit
  history, or under two years of history with at most one open line) were declined with
  probability 0.60 instead of 0.10.
- Replay traffic over 12 weeks from 2026-08-03 (UTC): nominal income inflates 4.5 % and the
  debt ratio rises 0.012 per week; from week 7, 20 % of applications are self-employed
  business borrowers from the south; labels of weeks 11-12 are missing.

Same seed → byte-identical data files.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from workbench.demo import _data as _demo_data
from workbench.demo import _docs as _demo_docs
from workbench.demo import _models as _demo_models
from workbench.demo._data import (
    DEBT_RATIO_RISE_PER_WEEK,
    FEATURES,
    INCOME_INFLATION_PER_WEEK,
    LABELLED_WEEKS,
    REPLAY_START,
    REPLAY_WEEKS,
    SEGMENT,
    SEGMENT_FROM_WEEK,
    SEGMENT_SHARE,
)
from workbench.canonical import digest, sha256_file
from workbench.errors import PolicyError, WorkbenchError

DEFAULT_SEED = 20261126
_MIN_ROWS = 1000
# fixed row-group size and no write-time metadata: same frame -> same bytes
_ROW_GROUP_SIZE = 32_768


@dataclass(frozen=True)
class DemoScenario:
    """Paths of everything :func:`write_demo` wrote (absolute)."""

    directory: Path
    review: Path
    model_card: Path
    policy: Path
    reference: Path
    evaluation: Path
    replay: Path
    baseline: Path
    candidate: Path
    seed: int


def write_demo(
    directory: str | Path,
    *,
    seed: int = DEFAULT_SEED,
    n_reference: int = 60_000,
    n_evaluation: int = 25_000,
    n_replay: int = 60_000,
    force: bool = False,
) -> DemoScenario:
    """Write the demo review (data, models, model card, policy, review.yaml) into ``directory``.

    Parameters
    ----------
    directory
        Target folder; created if missing. It must be empty unless ``force`` is true.
    seed
        Seeds the data generator and the candidate's ``random_state``.
    n_reference, n_evaluation, n_replay
        Rows of the training sample, the labelled evaluation set and the replay traffic.
    force
        Overwrite the scenario's files in a non-empty folder (other files are left alone).

    Returns
    -------
    DemoScenario
        The written paths; ``scenario.review`` is the manifest to pass to ``workbench review``.

    Raises
    ------
    WorkbenchError
        If the folder is not empty and ``force`` is false, or a size is too small.
    PolicyError
        If the packaged default policy is missing from the installation.

    Examples
    --------
    >>> import tempfile
    >>> s = write_demo(tempfile.mkdtemp(), n_reference=2000, n_evaluation=1000, n_replay=1200)
    >>> s.review.name, s.candidate.name
    ('review.yaml', 'candidate.skops')
    """
    root = Path(directory).expanduser().resolve()
    _check_target(root, force=force)
    _check_sizes(n_reference=n_reference, n_evaluation=n_evaluation, n_replay=n_replay)
    policy_text = _default_policy_bytes()
    s = _paths(root, seed)
    for sub in ("data", "models"):
        (root / sub).mkdir(parents=True, exist_ok=True)

    reference = _demo_data.labelled_frame(seed, n_reference, stream=0, first_id=1)
    evaluation = _demo_data.labelled_frame(seed, n_evaluation, stream=1, first_id=n_reference + 1)
    replay = _demo_data.replay_frame(seed, n_replay, first_id=n_reference + n_evaluation + 1)
    for frame, path in ((reference, s.reference), (evaluation, s.evaluation), (replay, s.replay)):
        write_parquet(frame, path)

    baseline, candidate = _demo_models.train(reference, target=_demo_data.TARGET, seed=seed)
    baseline_trusted = _demo_models.save_skops(baseline, s.baseline, reviewed=_demo_models.BASELINE_TRUSTED_TYPES)
    candidate_trusted = _demo_models.save_skops(candidate, s.candidate, reviewed=_demo_models.CANDIDATE_TRUSTED_TYPES)

    s.policy.write_bytes(policy_text)
    card = _demo_docs.model_card(
        sizes={"reference": n_reference, "evaluation": n_evaluation},
        data_versions={role: sha256_file(getattr(s, role)) for role in ("reference", "evaluation", "replay")},
        source_digest=_source_digest(),
    )
    _write_yaml(card, s.model_card, header="Model card of the candidate (demo scenario, written by `workbench demo`).")
    manifest = _demo_docs.review_manifest(
        seed=seed,
        paths={role: getattr(s, role).relative_to(root).as_posix()
               for role in ("candidate", "baseline", "evaluation", "reference", "replay", "policy", "model_card")},
        candidate_trusted=candidate_trusted,
        baseline_trusted=baseline_trusted,
    )
    _write_yaml(manifest, s.review, header="Review manifest of the demo scenario (see docs/DEMO.md). Paths are relative to this file.")
    return s


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` to Parquet deterministically (fixed row groups, zstd, no index)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, path, row_group_size=_ROW_GROUP_SIZE, compression="zstd", write_statistics=True)


def _paths(root: Path, seed: int) -> DemoScenario:
    return DemoScenario(
        directory=root,
        review=root / "review.yaml",
        model_card=root / "model_card.yaml",
        policy=root / "policy.yaml",
        reference=root / "data" / "reference.parquet",
        evaluation=root / "data" / "evaluation.parquet",
        replay=root / "data" / "replay.parquet",
        baseline=root / "models" / "baseline.skops",
        candidate=root / "models" / "candidate.skops",
        seed=seed,
    )


def _check_target(root: Path, *, force: bool) -> None:
    if root.exists() and not root.is_dir():
        raise WorkbenchError(f"{root}: exists and is not a folder; choose a folder for the demo scenario")
    if root.is_dir() and any(root.iterdir()) and not force:
        raise WorkbenchError(
            f"{root}: folder is not empty; choose an empty or new folder, or pass --force to overwrite "
            "the demo files in it"
        )


def _check_sizes(**sizes: int) -> None:
    small = [f"{name}={n}" for name, n in sizes.items() if n < _MIN_ROWS]
    if small:
        raise WorkbenchError(f"demo sizes too small ({', '.join(small)}): every data set needs at least {_MIN_ROWS} rows")


def _default_policy_bytes() -> bytes:
    resource = importlib.resources.files("workbench") / "data" / "default_policy.yaml"
    if not resource.is_file():
        raise PolicyError(
            "workbench/data/default_policy.yaml: the packaged default policy is missing; reinstall the "
            "workbench (pip install -e .)"
        )
    return resource.read_bytes()


def _source_digest() -> str:
    """Content address of the code that generated the data and trained the models."""
    files = {Path(m.__file__).name: sha256_file(m.__file__)  # type: ignore[arg-type]  # modules loaded from files
             for m in (_demo_data, _demo_models)}
    return digest(files)


def _write_yaml(data: dict, path: Path, *, header: str) -> None:
    import yaml

    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False)
    path.write_text(f"# {header}\n{body}", encoding="utf-8")


__all__ = [
    "DEBT_RATIO_RISE_PER_WEEK",
    "DEFAULT_SEED",
    "FEATURES",
    "INCOME_INFLATION_PER_WEEK",
    "LABELLED_WEEKS",
    "REPLAY_START",
    "REPLAY_WEEKS",
    "SEGMENT",
    "SEGMENT_FROM_WEEK",
    "SEGMENT_SHARE",
    "DemoScenario",
    "write_demo",
    "write_parquet",
]
