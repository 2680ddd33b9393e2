"""Sections drawn from the evidence JSON: quantitative, explanations, fairness.

Key paths follow docs/ARCHITECTURE.md ("Evidence JSON"). Readers are tolerant of absent
items: each missing part becomes an explicit "not available in this review" note.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from workbench.report._model import (
    Chart,
    ChartRow,
    ChartSpec,
    Heading,
    Para,
    Role,
    Section,
    Series,
    fmt,
    fmt_bound,
    fmt_metric,
    get_path,
    label,
    metric_value,
    missing,
    table,
    threshold_text,
)

ROLES: tuple[Role, ...] = ("candidate", "baseline")
_MAX_POINTS = 160
_DISPARITIES = (
    "demographic_parity_difference", "demographic_parity_ratio", "equalized_odds_difference",
    "equalized_odds_ratio", "equal_opportunity_difference",
)


def _roles(evidence: Mapping[str, Any]) -> list[Role]:
    models = evidence.get("models") or {}
    return [r for r in ROLES if isinstance(models.get(r), Mapping) and models[r]]


def _thin(xs: Sequence[Any], ys: Sequence[Any]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """At most ``_MAX_POINTS`` evenly spaced points (first and last kept): small, deterministic PDFs."""
    pairs = [(float(x), float(y)) for x, y in zip(xs, ys, strict=False) if x is not None and y is not None]
    if len(pairs) > _MAX_POINTS:
        step = (len(pairs) - 1) / (_MAX_POINTS - 1)
        pairs = [pairs[round(i * step)] for i in range(_MAX_POINTS)]
    return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)


def _curve_chart(evidence: Mapping[str, Any], kind: str) -> Chart | None:
    series = []
    for role in _roles(evidence):
        c = get_path(evidence, f"models.{role}.curves.{kind}") or {}
        xs, ys = (c.get("fpr"), c.get("tpr")) if kind == "roc" else (c.get("recall"), c.get("precision"))
        if xs and ys:
            x, y = _thin(xs, ys)
            m = get_path(evidence, f"models.{role}.metrics.{'roc_auc' if kind == 'roc' else 'average_precision'}")
            name = get_path(evidence, f"models.{role}.name") or role
            series.append(Series(f"{role} ({name}) {'AUC' if kind == 'roc' else 'AP'} {fmt(metric_value(m))}", role, x, y))
    if not series:
        return None
    if kind == "roc":
        spec = ChartSpec("curve", "ROC curve", "False positive rate", "True positive rate", tuple(series),
                         diagonal=True, alt="ROC curves of candidate and baseline")
    else:
        spec = ChartSpec("curve", "Precision–recall curve", "Recall", "Precision", tuple(series),
                         alt="Precision-recall curves of candidate and baseline")
    return Chart(spec)


def _reliability_points(curve: Any) -> tuple[tuple[float, ...], tuple[float, ...]]:
    if isinstance(curve, Mapping):
        xs = curve.get("mean_predicted") or curve.get("prob_pred") or curve.get("predicted") or ()
        ys = curve.get("fraction_positive") or curve.get("prob_true") or curve.get("observed") or ()
        return _thin(xs, ys)
    xs, ys = [], []
    for b in curve or ():
        if isinstance(b, Mapping):
            x = next((b[k] for k in ("mean_predicted", "prob_pred", "predicted", "mean_score", "confidence") if k in b), None)
            y = next((b[k] for k in ("fraction_positive", "observed_rate", "prob_true", "observed", "accuracy", "event_rate") if k in b), None)
            if x is not None and y is not None and (b.get("n", b.get("count", 1)) or 0) > 0:
                xs.append(x)
                ys.append(y)
        elif isinstance(b, (list, tuple)) and len(b) >= 2:
            xs.append(b[0])
            ys.append(b[1])
    return _thin(xs, ys)


def _reliability_chart(evidence: Mapping[str, Any]) -> Chart | None:
    series = []
    for role in _roles(evidence):
        cal = get_path(evidence, f"models.{role}.calibration") or {}
        curve = cal.get("curve")
        if isinstance(curve, Mapping) and ("uniform" in curve or "quantile" in curve):
            curve = curve.get("uniform") or curve.get("quantile")
        x, y = _reliability_points(curve)
        if x:
            series.append(Series(f"{role} ECE {fmt(metric_value(cal.get('ece')))}", role, x, y))
    if not series:
        return None
    return Chart(ChartSpec("reliability", "Reliability diagram", "Mean predicted probability", "Observed frequency",
                           tuple(series), diagonal=True, alt="Reliability diagram of candidate and baseline"))


def _metric_table(evidence: Mapping[str, Any]) -> Any:
    roles = _roles(evidence)
    names: list[str] = []
    for role in roles:
        for n in get_path(evidence, f"models.{role}.metrics") or {}:
            if n not in names:
                names.append(n)
    if not names:
        return missing("Metrics")
    deltas = evidence.get("deltas") or {}
    rows = []
    for n in names:
        d = deltas.get(n) or {}
        rows.append((label(n), *(fmt_metric(get_path(evidence, f"models.{r}.metrics.{n}")) for r in roles),
                     fmt_metric(d) if d else "—", fmt(d.get("p_value")) if d else "—",
                     fmt(d.get("mde")) if d.get("mde") is not None else "—", _reading(d)))
    # the MDE: the smallest true difference the comparison finds four times in five (docs/POLICY.md)
    header = ("Metric", *(f"{r.capitalize()} [95% CI]" for r in roles), "Delta cand. − base. [CI]", "p",
              "MDE (80% power)", "Reading (margin)")
    widths = (1.8, *(2.4 for _ in roles), 2.6, 0.8, 1.2, 1.8)
    return table(header, rows, widths=widths)


def _reading(delta: Mapping[str, Any]) -> str:
    """The delta's reading with the margin it was read against (the policy's, when it states one)."""
    if not delta.get("reading"):
        return ""
    margin = delta.get("margin")
    return f"{delta['reading']} ({fmt(margin)})" if isinstance(margin, (int, float)) and margin else str(delta["reading"])


def _drift(evidence: Mapping[str, Any]) -> list[Any]:
    drift = evidence.get("drift") or {}
    feats = drift.get("features") or {}
    if not feats:
        return [missing("Drift")]
    order = sorted(feats.items(), key=lambda kv: -(metric_value(kv[1].get("psi")) or 0.0))
    rows = [(name, str(f.get("kind") or "—"), fmt(metric_value(f.get("psi"))), fmt(metric_value(f.get("ks_statistic"))),
             fmt(f.get("ks_p_value") if f.get("ks_p_value") is not None else f.get("chi2_p_value")),
             str(f.get("severity") or "—").upper()) for name, f in order]
    out: list[Any] = [table(("Feature", "Kind", "PSI", "KS", "p-value", "Severity"), rows,
                            widths=(3, 1.5, 1.2, 1.2, 1.2, 1.6), status_col=5)]
    if drift.get("share_drifted") is not None:
        out.append(Para(f"Share of drifted features: {fmt(metric_value(drift.get('share_drifted')))}.", "note"))
    return out


def _operational(evidence: Mapping[str, Any]) -> list[Any]:
    rows = []
    for role in _roles(evidence):
        op = get_path(evidence, f"models.{role}.operational") or {}
        if not op:
            continue
        lat = op.get("latency_ms") or {}
        rows.append((role, fmt(lat.get("p50")), fmt(lat.get("p95")), fmt(lat.get("p99")),
                     fmt(op.get("throughput_rows_per_s")), fmt(op.get("model_bytes")), fmt(op.get("peak_memory_mb")),
                     str(op.get("status") or "—").upper()))
    if not rows:
        return [missing("Operational measurements")]
    return [table(("Model", "p50 ms", "p95 ms", "p99 ms", "Rows/s", "Model bytes", "Peak MB", "Status"), rows,
                  widths=(1.3, 1.6, 1.6, 1.6, 1.9, 1.3, 0.9, 1.0)),
            Para("Latency percentiles of single-row calls with their 95% order-statistic intervals from the same "
                 "calls (an end the calls cannot bound is left out); rows/s with a t-interval over the batch's timed "
                 "parts.", "note")]


def _robustness(evidence: Mapping[str, Any]) -> list[Any]:
    rows = []
    for role in _roles(evidence):
        for t in get_path(evidence, f"models.{role}.robustness.tests") or ():
            params = t.get("params")
            ptxt = ", ".join(f"{k}={fmt(v)}" for k, v in params.items()) if isinstance(params, Mapping) else fmt(params)
            # perturbed and degradation with their bootstrap intervals (bare numbers in older evidence)
            rows.append((role, str(t.get("name")), ptxt, label(str(t.get("metric") or "—")), fmt(metric_value(t.get("clean"))),
                         fmt(t.get("perturbed")), fmt(t.get("degradation")), str(t.get("error") or "")))
    if not rows:
        return [missing("Robustness tests")]
    return [table(("Model", "Test", "Parameters", "Metric", "Clean", "Perturbed [95% CI]", "Degradation [95% CI]",
                   "Error"), rows, widths=(1.1, 1.5, 1.6, 1.1, 0.9, 1.9, 2.0, 1.4)),
            Para("Degradation > 0 means worse. Intervals: paired Poisson bootstrap over the sampled rows (the same "
                 "replicates for the clean and the perturbed scoring).", "note")]


def _slices(evidence: Mapping[str, Any], *, top: int = 10) -> Any:
    sl = list(get_path(evidence, "models.candidate.slices") or ())[:top]
    if not sl:
        return missing("Slice analysis")
    names: list[str] = []
    for s in sl:
        for n in (s.get("metrics") or {}):
            if n not in names and len(names) < 3:
                names.append(n)
    rows = [(str(s.get("feature")), str(s.get("slice")), s.get("n"),
             *(fmt_metric((s.get("metrics") or {}).get(n)) for n in names)) for s in sl]
    return table(("Feature", "Slice", "n", *(label(n) for n in names)), rows,
                 widths=(2, 2, 1, *(2.6 for _ in names)))


def _sample_note(evidence: Mapping[str, Any]) -> list[Any]:
    """A scale review: which sections ran on a seeded sample of rows, how many, how drawn (docs/SCALE.md)."""
    sample = evidence.get("sample")
    if not isinstance(sample, Mapping):
        return []
    sections = ", ".join(str(s) for s in sample.get("sections") or ())
    return [Para(f"Computed by the {evidence.get('engine')} engine on every row; {sections} ran on a seeded sample "
                 f"of {int(sample.get('rows') or 0):,} rows of {int(sample.get('of') or 0):,} (seed "
                 f"{sample.get('seed')}): {sample.get('method')}.", "note")]


def quantitative(evidence: Mapping[str, Any]) -> Section:
    """Metrics with CIs and paired deltas, curves, calibration, drift, operations, robustness, slices."""
    if not _roles(evidence):
        return Section("quantitative", "Quantitative evidence", (missing("Quantitative evidence"),))
    n = get_path(evidence, "review.n_evaluation")
    boot = get_path(evidence, "settings.n_bootstrap")
    blocks: list[Any] = [Para(
        f"Measured on {fmt(n)} evaluation rows; confidence intervals from {fmt(boot)} paired bootstrap "
        "replicates (candidate and baseline scored on the same replicates). Decision threshold: "
        f"{threshold_text(evidence)}.", "note")]
    blocks += _sample_note(evidence)
    blocks += [Heading("Metrics and paired deltas"), _metric_table(evidence)]
    charts = tuple(c for c in (_curve_chart(evidence, "roc"), _curve_chart(evidence, "pr")) if c)
    blocks.append(Heading("ROC and precision–recall curves"))
    blocks.append(ChartRow(charts) if charts else missing("Curves"))
    blocks.append(Heading("Calibration"))
    rel = _reliability_chart(evidence)
    cal_rows = [(role, *(fmt(metric_value(get_path(evidence, f"models.{role}.calibration.{k}")))
                         for k in ("ece", "mce", "brier_score", "slope", "intercept"))) for role in _roles(evidence)]
    if rel:
        blocks.append(ChartRow((rel,)))
    blocks.append(table(("Model", "ECE", "MCE", "Brier", "Slope", "Intercept"), cal_rows) if any(
        c != "—" for r in cal_rows for c in r[1:]) else missing("Calibration"))
    blocks += [Heading("Drift (evaluation vs reference)"), *_drift(evidence)]
    blocks += [Heading("Latency, throughput and memory"), *_operational(evidence)]
    blocks += [Heading("Robustness under perturbation"), *_robustness(evidence)]
    blocks += [Heading("Worst slices (candidate)"), _slices(evidence)]
    blocks += [Heading("Cross-check against scikit-learn and fairlearn"), *_cross_check(evidence)]
    return Section("quantitative", "Quantitative evidence", tuple(blocks))


def _cross_check(evidence: Mapping[str, Any]) -> list[Any]:
    """Largest difference per model and section between the workbench's numbers and the references."""
    cc = evidence.get("cross_check")
    if not isinstance(cc, Mapping) or "models" not in cc:
        return [missing("Cross-check")]
    rows_used = (f"{fmt(cc.get('rows'))} of {fmt(cc.get('of_rows'))} rows"
                 + (f" (a sample, seed {cc.get('seed')})" if cc.get("sampled") else " (every row)"))
    blocks: list[Any] = [Para(
        f"The workbench's point estimates recomputed on {rows_used} against scikit-learn's metrics and "
        f"fairlearn's MetricFrame disparities on the same rows. Largest absolute difference: "
        f"{fmt(cc.get('max_abs_diff'))} ({cc.get('worst') or '—'}).", "note")]
    rows = []
    for role, entry in (cc.get("models") or {}).items():
        groups = [("metrics", "scikit-learn", entry.get("metrics") or {})]
        groups += [(f"fairness: {feat}", "fairlearn", pairs) for feat, pairs in (entry.get("fairness") or {}).items()]
        for what, ref, pairs in groups:
            diffs = [p.get("abs_diff") for p in pairs.values() if p.get("abs_diff") is not None]
            undefined = sum(1 for p in pairs.values() if p.get("abs_diff") is None)
            rows.append((role, what, ref, fmt(len(pairs)), fmt(max(diffs) if diffs else None),
                         fmt(undefined) if undefined else "0"))
    blocks.append(table(("Model", "Compared", "Reference", "Values", "Largest |difference|", "Undefined"), rows,
                        widths=(1.6, 2.6, 1.8, 1.1, 2.0, 1.2)))
    if cc.get("undefined_on_one_side"):
        blocks.append(Para("Defined on one side only: " + ", ".join(cc["undefined_on_one_side"]), "note"))
    return blocks


# ---------------------------------------------------------------- explanations


def _importance(obj: Any) -> list[tuple[str, float, float | None, float | None]]:
    """(feature, value, ci_low, ci_high) from the shapes an importance list may take."""
    if not isinstance(obj, Mapping):
        return []
    raw = obj.get("global") or obj.get("importance") or obj.get("global_importance") or {}
    if isinstance(raw, Mapping) and ("features" in raw and "values" in raw):
        raw = dict(zip(raw["features"], raw["values"], strict=False))
    out = []
    if isinstance(raw, Mapping):
        for f, v in raw.items():
            val = metric_value(v)
            if val is not None:
                lo = v.get("ci_low") if isinstance(v, Mapping) else None
                hi = v.get("ci_high") if isinstance(v, Mapping) else None
                out.append((str(f), val, lo, hi))
    else:
        for item in raw:
            if isinstance(item, Mapping):
                val = metric_value(next((item[k] for k in ("mean_abs_shap", "importance", "value") if k in item), None))
                if val is not None:
                    out.append((str(item.get("feature")), val, item.get("ci_low"), item.get("ci_high")))
    return sorted(out, key=lambda t: -t[1])


def _records_table(records: Sequence[Any], *, limit: int = 15) -> Any:
    recs = [r for r in records if isinstance(r, Mapping)][:limit]
    cols: list[str] = []
    for r in recs:
        for k in r:
            if k not in cols and len(cols) < 7:
                cols.append(k)
    rows = []
    for r in recs:
        cells = []
        for c in cols:
            v = r.get(c)
            if isinstance(v, Mapping):
                top = sorted(((k, metric_value(x)) for k, x in v.items()), key=lambda kv: -abs(kv[1] or 0))[:4]
                cells.append(", ".join(f"{k} {fmt(x)}" for k, x in top))
            else:
                cells.append(fmt(v))
        rows.append(cells)
    return table([label(c) for c in cols], rows)


def _reliance_table(reliance: Mapping[str, Any]) -> Any:
    """Share of mean |SHAP| on sensitive features and on each of their proxies, per model."""
    rows = []
    for role, r in reliance.items():
        proxies = r.get("proxies") or {}
        rows.append((role, fmt(r.get("sensitive_share")), fmt(r.get("proxy_share")),
                     ", ".join(r.get("sensitive_features_used") or []) or "none",
                     ", ".join(f"{f} {fmt(v)}" for f, v in sorted(proxies.items(), key=lambda x: -float(x[1] or 0)))
                     or "—"))
    return table(("Model", "Share on sensitive", "Share on proxies", "Sensitive inputs", "Proxies (share)"), rows,
                 widths=(1.4, 1.5, 1.5, 1.8, 5.0))


def _diff_blocks(diff: Mapping[str, Any]) -> list[Any]:
    """Scalars and flat lists as one table; lists of records (rank moves, flips) as their own tables."""
    rows, extra = [], []
    for k, v in diff.items():
        if k == "reliance" and isinstance(v, Mapping) and v:
            extra += [Heading("Reliance on sensitive features and their proxies", 3), _reliance_table(v)]
        elif isinstance(v, (list, tuple)) and v and all(isinstance(x, Mapping) for x in v):
            extra += [Heading(label(str(k)), 3), _records_table(v)]
        elif isinstance(v, Mapping):
            rows.append((label(str(k)), "; ".join(f"{a}: {fmt(b) if not isinstance(b, Mapping) else ', '.join(f'{c} {fmt(d)}' for c, d in b.items())}"
                                                   for a, b in v.items())))
        elif isinstance(v, (list, tuple)):
            rows.append((label(str(k)), ", ".join(map(str, v)) or "none"))
        else:
            rows.append((label(str(k)), fmt(v)))
    return [table(("Item", "Value"), rows, widths=(3, 8)), *extra] if rows else extra


def explanations(evidence: Mapping[str, Any]) -> Section:
    """Global importance side by side, the explanation diff and a few local explanations."""
    ex = evidence.get("explanations") or {}
    imps = {r: _importance(ex.get(r)) for r in ROLES}
    if not ex or not any(imps.values()):
        return Section("explanations", "Explanations", (missing("SHAP explanations"),))
    top = [f for f, *_ in (imps["candidate"] or imps["baseline"])][:12]
    series = []
    for role in ROLES:
        if imps[role]:
            d = {f: (v, lo, hi) for f, v, lo, hi in imps[role]}
            y = tuple(d.get(f, (0.0, None, None))[0] for f in top)
            has_ci = all(d.get(f, (0, None, None))[1] is not None for f in top)
            series.append(Series(role, role, (), y,
                                 tuple(float(d[f][1]) for f in top) if has_ci else None,  # type: ignore[arg-type]  # has_ci
                                 tuple(float(d[f][2]) for f in top) if has_ci else None))  # type: ignore[arg-type]  # has_ci
    blocks: list[Any] = [Heading("Global importance (mean |SHAP|)"), ChartRow((Chart(ChartSpec(
        "bars", "Global feature importance", "mean |SHAP value|", "", tuple(series), categories=tuple(top),
        alt="Mean absolute SHAP value per feature, candidate and baseline"), width=0.9),))]
    rows = []
    for f in top:
        vals = {r: next((x for x in imps[r] if x[0] == f), None) for r in ROLES}
        rank = {r: next((i + 1 for i, x in enumerate(imps[r]) if x[0] == f), None) for r in ROLES}
        rows.append((f, *(fmt_metric({"value": v[1], "ci_low": v[2], "ci_high": v[3]}) if v else "—" for v in vals.values()),
                     fmt(rank["candidate"]), fmt(rank["baseline"])))
    blocks.append(table(("Feature", "Candidate [CI]", "Baseline [CI]", "Rank cand.", "Rank base."), rows,
                        widths=(3, 3, 3, 1.2, 1.2)))
    blocks.append(Heading("Explanation diff"))
    diff = ex.get("diff")
    if isinstance(diff, Sequence) and diff and not isinstance(diff, str):
        blocks.append(_records_table(diff))
    elif isinstance(diff, Mapping) and diff:
        blocks += _diff_blocks(diff)
    else:
        blocks.append(missing("Explanation diff"))
    blocks.append(Heading("Local explanations (candidate)"))
    local = (ex.get("candidate") or {}).get("local") if isinstance(ex.get("candidate"), Mapping) else None
    blocks.append(_records_table(local, limit=6) if local else missing("Local explanations"))
    return Section("explanations", "Explanations", tuple(blocks))


# ---------------------------------------------------------------- fairness


def _fairness_bounds(criteria: Sequence[Mapping[str, Any]]) -> list[Any]:
    rows = [(str(c.get("id")), str(c.get("status", "—")).upper(), fmt_bound(c.get("bound")), str(c.get("reason") or ""))
            for c in criteria if c.get("kind") == "fairness" or str(c.get("id", "")).startswith("fairness")]
    if not rows:
        return []
    return [Heading("Disparities against the policy's bounds"),
            table(("Criterion", "Status", "Bound", "Reason"), rows, widths=(2.8, 1.0, 1.2, 6.0), status_col=1)]


def fairness(evidence: Mapping[str, Any], criteria: Sequence[Mapping[str, Any]] = ()) -> Section:
    """Per-group tables with n and CIs, disparities against bounds and candidate vs baseline deltas."""
    cand = get_path(evidence, "models.candidate.fairness") or {}
    if not cand:
        return Section("fairness", "Fairness", (missing("Fairness evidence"), *_fairness_bounds(criteria)))
    base = get_path(evidence, "models.baseline.fairness") or {}
    deltas = evidence.get("fairness_deltas") or {}
    min_n = get_path(evidence, "settings.min_group_size") or 30
    blocks: list[Any] = [Para(
        f"Groups with fewer than {fmt(min_n)} evaluation rows are named as insufficient data; their "
        "rates are shown but do not decide a disparity.", "note"), *_fairness_bounds(criteria)]
    charts = []
    for feat, fc in cand.items():
        groups = fc.get("groups") or {}
        bgroups = (base.get(feat) or {}).get("groups") or {}
        blocks.append(Heading(f"Sensitive feature: {feat}"))
        rows, insufficient = [], []
        for g, s in groups.items():
            n = s.get("n")
            if s.get("insufficient") or (isinstance(n, (int, float)) and n < min_n):
                insufficient.append(f"{g} (n={fmt(n)})")
            b = bgroups.get(g) or {}
            rows.append((str(g), n, fmt_metric(s.get("selection_rate")), fmt_metric(b.get("selection_rate")),
                         fmt_metric(s.get("tpr")), fmt_metric(b.get("tpr")), fmt_metric(s.get("fpr")), fmt_metric(b.get("fpr"))))
        blocks.append(table(("Group", "n", "Sel. rate cand.", "Sel. rate base.", "TPR cand.", "TPR base.", "FPR cand.",
                             "FPR base."), rows, widths=(1.6, 0.9, 1.7, 1.7, 1.7, 1.7, 1.7, 1.7)))
        if insufficient:
            blocks.append(Para("Insufficient data: " + ", ".join(insufficient) + ".", "note"))
        drows = []
        for m in _DISPARITIES:
            if m in fc or m in (base.get(feat) or {}):
                d = (deltas.get(feat) or {}).get(m)
                drows.append((label(m), fmt_metric(fc.get(m)), fmt_metric((base.get(feat) or {}).get(m)),
                              fmt_metric(d) if d is not None else "—"))
        if drows:
            blocks.append(table(("Disparity", "Candidate", "Baseline", "Delta cand. − base."), drows,
                                widths=(3.5, 2.5, 2.5, 2.5)))
        cats = tuple(str(g) for g in groups)
        series = [Series("candidate", "candidate", (), tuple(metric_value(groups[g].get("selection_rate")) or 0.0 for g in groups))]
        if bgroups:
            series.append(Series("baseline", "baseline", (), tuple(metric_value((bgroups.get(g) or {}).get("selection_rate")) or 0.0
                                                                   for g in groups)))
        charts.append(Chart(ChartSpec("bars", f"Selection rate by {feat}", "selection rate", "", tuple(series),
                                      categories=cats, alt=f"Selection rate per {feat} group")))
    blocks.append(Heading("Selection rate by group"))
    for i in range(0, len(charts), 2):
        blocks.append(ChartRow(tuple(charts[i:i + 2])))
    blocks += _proxies(evidence)
    return Section("fairness", "Fairness", tuple(blocks))


def _proxies(evidence: Mapping[str, Any], *, top: int = 5) -> list[Any]:
    """The strongest associations of each sensitive feature with the model inputs (``fairness_proxies``)."""
    proxies = evidence.get("fairness_proxies") or {}
    rows = []
    for sensitive, entry in proxies.items():
        for a in (entry.get("associations") or [])[:top]:
            rows.append((str(sensitive), str(a.get("feature")), fmt(a.get("cramers_v")),
                         fmt(a.get("mutual_information")), str(a.get("strength") or "—")))
    if not rows:
        return []
    return [Heading("Proxies of the sensitive features (strongest associations with model inputs)"),
            table(("Sensitive feature", "Input", "Cramér's V", "Mutual information", "Strength"), rows,
                  widths=(2.2, 2.6, 1.6, 2.0, 1.6))]
