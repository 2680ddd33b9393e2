"""The aggregation plan: what a review needs from the data, as sums an executor can compute.

A :class:`ScaleSpec` says which columns hold the label, the precomputed scores, the sensitive
attributes and the features, and how the evidence is computed. :func:`aggregation_plan` turns
it into the list of aggregates every executor (numpy, DuckDB, Spark) computes; an executor
returns them in an :class:`Aggregates` value and the pure finalisers of
``workbench.engine._finalise`` turn that into evidence. Only aggregates cross the boundary:
the largest is the exact-AUC score table (one row per distinct score), which the histogram
method replaces by a fixed number of bins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

AucMethod = Literal["exact", "histogram"]


@dataclass(frozen=True)
class ScaleSpec:
    """Columns and settings of a review computed where the data lives.

    Parameters
    ----------
    label : str
        Target column; a row is positive when it equals ``positive_label``.
    scores : mapping of role to column
        Precomputed P(positive) columns, e.g. ``{"candidate": "score_c", "baseline": "score_b"}``.
    sensitive : tuple of str
        Sensitive attribute columns (fairness per feature and for their intersection).
    features : tuple of str
        Feature columns for drift (against a reference profile).
    id_column : str, optional
        Unique row key; the SQL executors hash it (with the replicate number) into the
        bootstrap weights. Without it DuckDB uses file name and row number.
    """

    label: str
    scores: Mapping[str, str]
    positive_label: Any = 1
    threshold: float = 0.5
    sensitive: tuple[str, ...] = ()
    features: tuple[str, ...] = ()
    id_column: str | None = None
    n_boot: int = 200
    seed: int = 0
    confidence: float = 0.95
    calibration_bins: int = 10
    fairness_bins: int = 10
    min_group_size: int = 30
    auc: AucMethod = "exact"
    histogram_bins: int = 1 << 16
    bootstrap_bins: int = 1 << 12
    drift_bands: tuple[float, ...] = (0.1, 0.25)
    drift_epsilon: float = 1e-4
    bootstrap_unit: Literal["auto", "row", "bucket"] = "auto"
    bootstrap_buckets: int = 1024

    def __post_init__(self) -> None:
        if not self.scores:
            raise ValueError("ScaleSpec.scores needs at least one role -> score column")
        if not 0 <= self.threshold <= 1:
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold}")
        for name in ("histogram_bins", "bootstrap_bins", "calibration_bins", "fairness_bins"):
            if getattr(self, name) < 2:
                raise ValueError(f"{name} must be >= 2, got {getattr(self, name)}")
        if self.bootstrap_unit not in ("auto", "row", "bucket"):
            raise ValueError(f"bootstrap_unit must be auto, row or bucket, got {self.bootstrap_unit!r}")
        if not 64 <= self.bootstrap_buckets <= 1 << 16:
            raise ValueError(f"bootstrap_buckets must be in [64, 65536], got {self.bootstrap_buckets}")
        if self.n_boot < 0 or self.n_boot > 100_000:
            raise ValueError(f"n_boot must be in [0, 100000], got {self.n_boot}")

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(self.scores)

    def settings(self) -> dict[str, Any]:
        """JSON-ready settings recorded in the evidence."""
        return {"n_bootstrap": self.n_boot, "seed": self.seed, "confidence": self.confidence,
                "threshold": self.threshold, "calibration_bins": self.calibration_bins,
                "fairness_bins": self.fairness_bins, "min_group_size": self.min_group_size,
                "auc": self.auc, "histogram_bins": self.histogram_bins,
                "bootstrap_bins": self.bootstrap_bins, "bootstrap_unit": self.bootstrap_unit,
                "bootstrap_buckets": self.bootstrap_buckets, "drift_bands": list(self.drift_bands),
                "drift_epsilon": self.drift_epsilon}


@dataclass(frozen=True)
class AggregateSpec:
    """One aggregate of the plan: ``kind`` over ``keys`` summing ``values``."""

    name: str
    kind: Literal["scalar", "grouped", "binned", "replicated", "rank"]
    keys: tuple[str, ...]
    values: tuple[str, ...]


def aggregation_plan(spec: ScaleSpec, *, drift: bool) -> tuple[AggregateSpec, ...]:
    """The aggregates a review needs (recorded in the evidence under ``plan``)."""
    out: list[AggregateSpec] = []
    lin = ("tp", "fp", "positives", "rows", "log_loss_sum", "brier_sum")
    for role in spec.roles:
        out.append(AggregateSpec(f"linear:{role}", "scalar", (), lin))
        if spec.auc == "exact":
            out.append(AggregateSpec(f"ranks:{role}", "rank", ("score",), ("negatives", "positives")))
        else:
            out.append(AggregateSpec(f"histogram:{role}", "binned", (f"score bin / {spec.histogram_bins}",),
                                     ("negatives", "positives")))
        out.append(AggregateSpec(f"calibration:{role}", "binned",
                                 ("uniform bin", "quantile bin"), ("rows", "sum p", "sum y")))
        out.append(AggregateSpec(f"logistic:{role}", "scalar", (), ("gradient", "hessian")))
    if spec.sensitive:
        out.append(AggregateSpec("fairness:cells", "grouped", (*spec.sensitive, "y", *(f"pred:{r}" for r in spec.roles)),
                                 ("rows",)))
        out.append(AggregateSpec("fairness:calibration", "grouped", (*spec.sensitive, "score bin"), ("sum y - p",)))
    if drift:
        for f in spec.features:
            out.append(AggregateSpec(f"drift:{f}", "binned", ("reference grid cell",),
                                     ("rows", "sum x - anchor", "rows on anchor", "min", "max")))
    if spec.n_boot:
        out.append(AggregateSpec("bootstrap", "replicated", ("replicate",),
                                 ("linear", f"score histogram / {spec.bootstrap_bins}", "calibration bins",
                                  "fairness cells")))
    return tuple(out)


@dataclass
class RoleAggregates:
    """Everything one model's metrics and calibration need."""

    linear: np.ndarray  # (6,) tp, fp, positives, rows, log-loss sum, Brier sum
    score_min: float
    score_max: float
    ranks: tuple[np.ndarray, np.ndarray] | None = None  # per distinct score ascending: (neg, pos)
    rank_summary: dict[str, float] | None = None  # SQL exact ranks: num2, ap_sum, P, N
    histogram: np.ndarray | None = None  # (bins, 2) counts (neg, pos) over [0, 1]
    calibration: np.ndarray | None = None  # CalibrationPrepared column sums
    quantile_edges: np.ndarray | None = None
    slope: float = float("nan")
    intercept: float = float("nan")

    @property
    def probabilities(self) -> bool:
        return bool(self.score_min >= 0 and self.score_max <= 1)


@dataclass
class FairnessAggregates:
    """Per cell of the sensitive features' intersection: joint counts and calibration sums."""

    combos: dict[str, list]  # feature -> value per cell (None = missing)
    joint: np.ndarray  # (F, 2, 2, ...) counts by cell, y, prediction of each role
    calibration: dict[str, np.ndarray]  # role -> (F, bins) sums of y - p


@dataclass
class NumericCells:
    """The current column on the reference grid (see ``workbench.metrics._drift_numeric``)."""

    counts: np.ndarray
    sums: np.ndarray
    at_edge: np.ndarray
    n_missing: int
    minimum: float
    maximum: float


@dataclass
class CategoryCounts:
    counts: dict[Any, int]  # value -> rows (None = missing)


@dataclass
class BootstrapAggregates:
    """Replicated aggregates, leading axis = replicate."""

    linear: dict[str, np.ndarray]  # role -> (B, 6)
    histogram: dict[str, np.ndarray]  # role -> (B, bins, 2)
    calibration: dict[str, np.ndarray]  # role -> (B, m)
    joint: np.ndarray | None = None  # (B, F, 2, 2, ...)
    fair_calibration: dict[str, np.ndarray] = field(default_factory=dict)  # role -> (B, F, bins)
    weights: str = ""  # how the Poisson weights were drawn


@dataclass
class Aggregates:
    """What an executor returns: the plan's aggregates, nothing per row."""

    engine: str
    n_rows: int
    roles: dict[str, RoleAggregates]
    fairness: FairnessAggregates | None = None
    drift: dict[str, NumericCells | CategoryCounts] = field(default_factory=dict)
    boot: BootstrapAggregates | None = None
    timings: dict[str, float] = field(default_factory=dict)


def uniform_bin(p: np.ndarray, bins: int) -> np.ndarray:
    """The uniform [0, 1] bin of a probability (1.0 falls in the last bin), as everywhere."""
    return np.clip((np.asarray(p, dtype=np.float64) * bins).astype(np.int64), 0, bins - 1)
