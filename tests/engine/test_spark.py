"""Spark local[2] runs the same plan and agrees with DuckDB (histogram AUC within its bound)."""

from __future__ import annotations

import pytest

from tests.engine import assert_cells_agree, assert_numeric_drift_equal, make_frame, make_reference
from workbench.engine import ScaleSpec, build_profile, evidence_from_aggregates
from workbench.engine._duckdb import duckdb_aggregates
from workbench.errors import DataError

pytest.importorskip("pyspark")
pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
              pytest.mark.filterwarnings("ignore::ResourceWarning")]

SPEC = ScaleSpec(label="y", scores={"candidate": "sc", "baseline": "sb"}, sensitive=("sex", "age"),
                 features=("x1", "c1"), id_column="id", n_boot=20, seed=2, histogram_bins=1 << 14)


@pytest.fixture(scope="module")
def both(spark, tmp_path_factory):
    from workbench.engine._spark import spark_aggregates

    path = tmp_path_factory.mktemp("spark") / "scores.parquet"
    make_frame(1500, seed=4).to_parquet(path)
    profile = build_profile(make_reference(1000), features=["x1", "c1"])
    sp = evidence_from_aggregates(spark_aggregates(spark, str(path), SPEC, profile=profile), SPEC, profile=profile)
    dk = evidence_from_aggregates(duckdb_aggregates(str(path), SPEC, profile=profile), SPEC, profile=profile)
    return path, sp, dk


def test_spark_agrees_with_duckdb(both):
    _, sp, dk = both
    assert sp["engine"] == "spark"
    for role in ("candidate", "baseline"):
        a, b = dk["models"][role], sp["models"][role]
        assert a["confusion_matrix"] == b["confusion_matrix"]
        for name in ("accuracy", "recall", "mcc", "log_loss", "brier_score"):
            assert b["metrics"][name]["value"] == pytest.approx(a["metrics"][name]["value"], abs=1e-9)
        for name in ("roc_auc", "average_precision"):
            entry = b["metrics"][name]
            assert entry["method"].startswith("histogram(16384")
            assert abs(entry["value"] - a["metrics"][name]["value"]) <= entry["error_bound"] + 1e-12
            assert entry["ci_low"] <= entry["value"] <= entry["ci_high"]
        for name in ("ece", "ece_quantile", "slope", "intercept"):
            assert b["calibration"][name]["value"] == pytest.approx(a["calibration"][name]["value"], abs=1e-9)
        for grouping, sec in a["fairness"].items():
            assert {k: g["n"] for k, g in b["fairness"][grouping]["groups"].items()} == {
                k: g["n"] for k, g in sec["groups"].items()}
            assert b["fairness"][grouping]["equalized_odds_difference"]["value"] == pytest.approx(
                sec["equalized_odds_difference"]["value"], abs=1e-12)
    for name in ("x1", "c1"):
        a, b = dk["drift"]["features"][name], sp["drift"]["features"][name]
        assert a["current_proportions"] == b["current_proportions"]
        assert b["psi"] == pytest.approx(a["psi"], abs=1e-12)
    assert sp["drift"]["features"]["x1"]["ks_statistic"] == pytest.approx(dk["drift"]["features"]["x1"]["ks_statistic"])
    assert sp["drift"]["features"]["x1"]["wasserstein"] == pytest.approx(dk["drift"]["features"]["x1"]["wasserstein"],
                                                                         abs=1e-9)


def test_spark_needs_a_row_key_for_the_bootstrap(spark, both):
    from workbench.engine._spark import spark_aggregates

    path, _, _ = both
    spec = ScaleSpec(label="y", scores={"candidate": "sc"}, n_boot=5)
    with pytest.raises(DataError, match="id_column"):
        spark_aggregates(spark, str(path), spec)


def test_arrow_drift_binning_equals_bucketizer_and_duckdb(spark, tmp_path):
    """One mapInArrow job for every feature gives the cells of the per-feature Bucketizer jobs
    and of DuckDB: values on grid edges, NaN, infinities, an all-missing column."""
    import numpy as np

    from workbench.engine._spark import SparkExecutor

    frame = make_frame(3000, seed=9)
    profile = build_profile(make_reference(2000).assign(x2=np.linspace(-3, 3, 2000), x3=1.0),
                            features=["x1", "x2", "x3"])
    grid = np.asarray(profile.features["x1"].grid)
    x1 = frame["x1"].to_numpy().copy()
    x1[:200] = grid[np.arange(200) % grid.size]  # exactly on edges (right-closed cells, at_edge)
    x1[200:210] = [np.inf, -np.inf] * 5
    frame = frame.assign(x1=x1, x2=np.random.default_rng(3).normal(0, 2, len(frame)), x3=np.nan)
    path = tmp_path / "drift.parquet"
    frame.to_parquet(path)
    spec = ScaleSpec(label="y", scores={"candidate": "sc"}, features=("x1", "x2", "x3"), n_boot=0)
    cells = {}
    for mode in ("arrow", "bucketizer"):
        ex = SparkExecutor(spark, str(path), spec, drift_binning=mode)
        try:
            ex._drift_stats(["x1", "x2", "x3"], profile)
            cells[mode] = {n: ex.numeric_cells(n, profile.features[n]) for n in ("x1", "x2", "x3")}
        finally:
            ex.close()
    duck = duckdb_aggregates(str(path), spec, profile=profile).drift
    for name in ("x1", "x2"):
        a, b, d = cells["arrow"][name], cells["bucketizer"][name], duck[name]
        for other in (b, d):
            assert np.array_equal(a.counts, other.counts), name
            assert np.array_equal(a.at_edge, other.at_edge), name
            assert np.allclose(a.sums, other.sums, rtol=1e-12, atol=1e-9), name
            assert (a.n_missing, a.minimum, a.maximum) == (other.n_missing, other.minimum, other.maximum), name
    assert cells["arrow"]["x1"].at_edge.sum() >= 200 - 1
    assert cells["arrow"]["x1"].n_missing == int(np.sum(~np.isfinite(x1)))
    assert cells["arrow"]["x3"].n_missing == cells["bucketizer"]["x3"].n_missing == duck["x3"].n_missing == 3000


def test_a_skops_model_scored_inside_spark_gives_the_in_process_scores(spark, tmp_path, capsys):
    """`workbench review --engine spark` with a model file: the workers score it (mapInPandas)
    with the in-memory loader and scorer; the evidence equals DuckDB's on the same scores
    computed in this process, and the model file is in the lineage."""
    import hashlib
    import json

    import numpy as np
    import pandas as pd
    import skops.io as sio
    import yaml
    from sklearn.ensemble import HistGradientBoostingClassifier

    from workbench.artefacts import load_model
    from workbench.cli import main
    from workbench.artefacts import load_manifest

    frame = make_frame(2500, seed=21)
    model = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(frame[["x1", "age"]], frame["y"])
    sio.dump(model, tmp_path / "cand.skops")
    frame.to_parquet(tmp_path / "eval.parquet", index=False)
    frame.iloc[:1200].to_parquet(tmp_path / "reference.parquet", index=False)
    doc = {"name": "spark-scored", "task": "binary", "target": "y", "positive_label": 1,
           "candidate": {"path": "cand.skops", "name": "hgb", "version": "1",
                         "trusted_types": sio.get_untrusted_types(file=tmp_path / "cand.skops")},
           "baseline": {"predictions": "sb"}, "data": {"evaluation": "eval.parquet", "reference": "reference.parquet"},
           "features": ["x1", "age"], "sensitive_features": ["sex"], "id_column": "id",
           "settings": {"n_bootstrap": 20, "seed": 3}}
    (tmp_path / "review.yaml").write_text(yaml.safe_dump(doc))
    assert main(["review", str(tmp_path / "review.yaml"), "--out", str(tmp_path / "spark.json"),
                 "--engine", "spark"]) == 0, capsys.readouterr().err
    sp = json.loads((tmp_path / "spark.json").read_text())
    # the model itself runs on the seeded sample (here every row), and the evidence says so
    assert sp["sample"]["rows"] == len(frame) and sp["sections"]["operational"]["status"] == "ok"
    assert sp["sections"]["robustness"]["sample_rows"] == len(frame) and sp["models"]["candidate"]["robustness"]
    from workbench.artefacts import load_review

    assert load_review(tmp_path / "review.yaml").evidence_digest == sp["evidence_digest"]  # gate accepts it

    m = load_manifest(tmp_path / "review.yaml")
    loaded = load_model(m.candidate, role="candidate", base_dir=tmp_path, task="binary", features=m.features,
                        positive_label=1)
    local = frame.assign(sc_local=loaded.predict_scores(frame))
    local.to_parquet(tmp_path / "local.parquet", index=False)
    doc["candidate"] = {"predictions": "sc_local", "name": "hgb", "version": "1"}
    doc["data"]["evaluation"] = "local.parquet"
    (tmp_path / "review.yaml").write_text(yaml.safe_dump(doc))
    assert main(["review", str(tmp_path / "review.yaml"), "--out", str(tmp_path / "duck.json"),
                 "--engine", "duckdb"]) == 0, capsys.readouterr().err
    dk = json.loads((tmp_path / "duck.json").read_text())

    a, b = dk["models"]["candidate"], sp["models"]["candidate"]
    assert a["confusion_matrix"] == b["confusion_matrix"]
    for name in ("log_loss", "brier_score", "accuracy"):
        assert b["metrics"][name]["value"] == pytest.approx(a["metrics"][name]["value"], abs=1e-12), name
    assert abs(b["metrics"]["roc_auc"]["value"] - a["metrics"]["roc_auc"]["value"]) <= b["metrics"]["roc_auc"]["error_bound"]
    assert b["calibration"]["ece"]["value"] == pytest.approx(a["calibration"]["ece"]["value"], abs=1e-12)
    assert b["kind"] == "skops, scored in spark" and a["kind"] == "precomputed"
    digest = hashlib.sha256((tmp_path / "cand.skops").read_bytes()).hexdigest()
    assert any(x.get("role") == "candidate" and x["sha256"] == digest for x in sp["artefacts"])
    assert np.isfinite(pd.read_parquet(tmp_path / "local.parquet")["sc_local"]).all()


def _by_cell(fair):
    """cell values -> index, to line up the cells of two executors (their order differs)."""
    names = list(fair.combos)
    return {tuple(fair.combos[n][c] for n in names): c for c in range(len(fair.combos[names[0]]))}


def test_single_pass_partials_equal_the_sql_plan_duckdb_and_numpy(spark, tmp_path):
    """The partials pass in the Python workers (one partial per partition, summed on the driver)
    and its narrow passes give the aggregates of the previous all-SQL Spark plan (the JVM path,
    still used for drift_binning="bucketizer"), of DuckDB and of numpy: counts, histograms and
    fairness cells identical; quantile edges those of numpy.quantile; float sums to 1e-9; the
    per-bucket bootstrap sums (same buckets) equal to the SQL plan's. Three files whose rows
    come in different orders, so the partitions meet the sensitive cells in different orders;
    missing values in both sensitive columns."""
    import numpy as np
    import pandas as pd

    from workbench.engine._numpy import numpy_aggregates
    from workbench.engine._spark import SparkExecutor

    frame = make_frame(4000, seed=12)
    frame.loc[frame.index[:40], "sex"] = None
    lake = tmp_path / "lake"
    lake.mkdir()
    shuffled = frame.sample(frac=1.0, random_state=3)
    for k in range(3):
        part = shuffled.iloc[k * 1400: (k + 1) * 1400]
        part.sort_values(["sex", "age"], ascending=k % 2 == 0, na_position="first" if k else "last").to_parquet(
            lake / f"part-{k}.parquet", index=False)
    glob = str(lake / "*.parquet")
    spec = ScaleSpec(label="y", scores={"candidate": "sc", "baseline": "sb"}, sensitive=("sex", "age"),
                     features=("x1", "c1"), id_column="id", n_boot=30, seed=5, auc="histogram",
                     histogram_bins=1 << 12, bootstrap_buckets=64)
    profile = build_profile(make_reference(1000), features=["x1", "c1"])
    runs = {}
    for mode in ("arrow", "bucketizer"):
        ex = SparkExecutor(spark, glob, spec, drift_binning=mode)
        assert ex.single_pass == (mode == "arrow")
        try:
            runs[mode] = ex.run(profile=profile)
        finally:
            ex.close()
    new, old = runs["arrow"], runs["bucketizer"]
    duck = duckdb_aggregates(glob, spec, profile=profile)
    ref = numpy_aggregates(pd.concat([pd.read_parquet(p) for p in sorted(lake.glob("*.parquet"))]),
                           spec, profile=profile)
    assert new.n_rows == old.n_rows == duck.n_rows == 4000
    for role, col in spec.scores.items():
        a, b, d, r = new.roles[role], old.roles[role], duck.roles[role], ref.roles[role]
        for other in (b, d, r):
            assert np.allclose(a.linear, other.linear, rtol=0, atol=1e-9), role
            assert np.array_equal(a.histogram, other.histogram), role
            assert (a.score_min, a.score_max) == (other.score_min, other.score_max)
            assert a.slope == pytest.approx(other.slope, abs=1e-9) and a.intercept == pytest.approx(
                other.intercept, abs=1e-9)
        assert np.array_equal(a.linear[:4], b.linear[:4])  # counts: exact
        scores = pd.concat([pd.read_parquet(p) for p in lake.glob("*.parquet")])[col].to_numpy()
        assert np.array_equal(a.quantile_edges, np.unique(np.quantile(scores, np.linspace(0, 1, 11))))
        assert np.array_equal(a.quantile_edges, b.quantile_edges) and np.array_equal(a.quantile_edges, r.quantile_edges)
        for other in (b, d, r):
            assert np.allclose(a.calibration, other.calibration, rtol=1e-12, atol=1e-9), role
        for part in ("linear", "histogram", "calibration"):
            x, y = getattr(new.boot, part)[role], getattr(old.boot, part)[role]
            assert x.shape == y.shape and np.allclose(x, y, rtol=1e-12, atol=1e-8), (role, part)
    cells = {"new": _by_cell(new.fairness), "old": _by_cell(old.fairness), "duck": _by_cell(duck.fairness)}
    assert set(cells["new"]) == set(cells["old"]) == set(cells["duck"])
    assert any(None in key for key in cells["new"])  # the missing values form their own cells
    assert_cells_agree(new, old, cells["new"], cells["old"], spec.scores)
    for key, c in cells["new"].items():
        assert np.array_equal(new.fairness.joint[c], duck.fairness.joint[cells["duck"][key]]), key
    assert_numeric_drift_equal(new.drift["x1"], (old.drift["x1"], duck.drift["x1"]))
    assert new.drift["c1"].counts == old.drift["c1"].counts == duck.drift["c1"].counts


def test_single_pass_with_scores_outside_unit_interval_reruns_on_their_range(spark, tmp_path):
    """A model whose scores are not probabilities: the partials pass runs again with the AUC
    histograms over the observed range and no calibration for it — as the SQL plan and DuckDB."""
    import numpy as np

    frame = make_frame(1500, seed=4)
    frame["sb"] = np.log(frame["sb"] / (1 - frame["sb"]))  # logits
    path = tmp_path / "logits.parquet"
    frame.to_parquet(path)
    spec = ScaleSpec(label="y", scores={"candidate": "sc", "baseline": "sb"}, sensitive=("sex",), id_column="id",
                     n_boot=10, histogram_bins=1 << 12, auc="histogram")
    from workbench.engine._spark import spark_aggregates

    new = spark_aggregates(spark, str(path), spec)
    old = spark_aggregates(spark, str(path), spec, drift_binning="bucketizer")
    duck = duckdb_aggregates(str(path), spec)
    assert not new.roles["baseline"].probabilities and new.roles["candidate"].probabilities
    for role in spec.scores:
        a = new.roles[role]
        assert np.array_equal(a.histogram, old.roles[role].histogram)
        assert np.array_equal(a.histogram, duck.roles[role].histogram)
        assert np.allclose(a.linear, duck.roles[role].linear, rtol=0, atol=1e-9)
        assert np.array_equal(new.boot.histogram[role], old.boot.histogram[role])
    assert new.roles["baseline"].calibration is None and "baseline" not in new.boot.calibration
    assert sorted(new.fairness.calibration) == sorted(old.fairness.calibration) == ["candidate"]
