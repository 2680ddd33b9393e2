"""Stream timestamped traffic window by window, holding one window in memory.

Parquet files are read in record batches with pyarrow; rows must be sorted by the timestamp
column (production logs are). Windows are ``[start + k * window, start + (k + 1) * window)``
with ``start`` the first timestamp's midnight (UTC), so weekly windows of traffic that starts
on a Monday are calendar weeks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.errors import DataError


@dataclass(frozen=True)
class Window:
    index: int
    start: pd.Timestamp
    end: pd.Timestamp
    frame: pd.DataFrame


def _offset(window: str, label: str) -> pd.Timedelta:
    try:
        delta = pd.Timedelta(window)
    except (ValueError, TypeError) as exc:
        raise DataError(f"{label}: window {window!r} is not a duration such as '7D' or '1D' ({exc})") from exc
    if delta <= pd.Timedelta(0):
        raise DataError(f"{label}: window {window!r} must be positive")
    return delta


def _timestamps(values: pd.Series, column: str, label: str) -> pd.Series:
    if not pd.api.types.is_datetime64_any_dtype(values):
        try:
            values = pd.to_datetime(values, utc=True)
        except (ValueError, TypeError) as exc:
            raise DataError(f"{label}: column {column!r} is not a timestamp ({exc})") from exc
    if values.dt.tz is None:
        values = values.dt.tz_localize("UTC")
    if values.isna().any():
        raise DataError(f"{label}: column {column!r} has {int(values.isna().sum())} missing timestamps")
    return values


def window_bounds(first: pd.Timestamp, last: pd.Timestamp, window: str, *, label: str = "replay") -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Every window from ``first``'s midnight up to the one containing ``last``."""
    delta = _offset(window, label)
    start = first.normalize()
    n = int((last - start) // delta) + 1
    return [(start + k * delta, start + (k + 1) * delta) for k in range(n)]


def scan_time_range(source: Path | pd.DataFrame, column: str, *, label: str = "replay") -> tuple[pd.Timestamp, pd.Timestamp, int]:
    """(first, last, rows) of the timestamp column, reading only that column."""
    if isinstance(source, pd.DataFrame):
        if column not in source.columns:
            raise DataError(f"{label}: no timestamp column {column!r}; set replay.timestamp_column in the manifest")
        ts = _timestamps(source[column], column, label)
    else:
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(source)
        if column not in pf.schema_arrow.names:
            raise DataError(f"{label}: no timestamp column {column!r}; set replay.timestamp_column in the manifest")
        ts = _timestamps(pf.read(columns=[column]).column(column).to_pandas(), column, label)
    if ts.empty:
        raise DataError(f"{label}: the replay data has no rows")
    return ts.min(), ts.max(), len(ts)


def _batches(source: Path | pd.DataFrame, batch_rows: int) -> Iterator[pd.DataFrame]:
    if isinstance(source, pd.DataFrame):
        for lo in range(0, len(source), batch_rows):
            yield source.iloc[lo : lo + batch_rows]
        return
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(source)
    for batch in pf.iter_batches(batch_size=batch_rows):
        yield batch.to_pandas()


def iter_windows(
    source: Path | pd.DataFrame,
    *,
    timestamp_column: str,
    window: str,
    batch_rows: int = 65_536,
    label: str = "replay",
) -> Iterator[Window]:
    """Yield consecutive windows (empty windows included) from a time-sorted source.

    Examples
    --------
    >>> ts = pd.date_range("2026-01-05", periods=6, freq="2D", tz="UTC")
    >>> frame = pd.DataFrame({"t": ts, "x": range(6)})
    >>> [(w.index, len(w.frame)) for w in iter_windows(frame, timestamp_column="t", window="7D")]
    [(0, 4), (1, 2)]
    """
    first, last, _ = scan_time_range(source, timestamp_column, label=label)
    bounds = window_bounds(first, last, window, label=label)
    ends = np.array([e.to_datetime64() for _, e in bounds])
    pending: list[pd.DataFrame] = []
    current, previous = 0, None
    for batch in _batches(source, batch_rows):
        if not len(batch):
            continue
        values = _timestamps(batch[timestamp_column], timestamp_column, label).dt.tz_convert(None).to_numpy()
        unsorted = (values[1:] < values[:-1]).any() or (previous is not None and values[0] < previous)
        if unsorted:
            raise DataError(f"{label}: rows are not sorted by {timestamp_column!r}; sort the file by time")
        previous = values[-1]
        idx = np.searchsorted(ends.astype(values.dtype), values, side="right")
        windows, starts = np.unique(idx, return_index=True)
        stops = np.r_[starts[1:], len(idx)]
        for w, lo, hi in zip(windows, starts, stops):
            while current < w:
                yield _emit(current, bounds, pending)
                pending, current = [], current + 1
            pending.append(batch.iloc[lo:hi])
    while current < len(bounds):
        yield _emit(current, bounds, pending)
        pending, current = [], current + 1


def _emit(index: int, bounds, parts: list[pd.DataFrame]) -> Window:
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    start, end = bounds[index]
    return Window(index, start, end, frame)
