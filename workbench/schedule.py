"""How the evidence's sections are scheduled: stages one after the other, the lanes of a stage
side by side, and progress delivered only on the thread that asked for it.

Used by ``workbench.evidence``, which says what each section computes; this module knows
nothing of sections but their names.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

Stage = tuple[tuple[str, ...], ...]

__all__ = ["Messenger", "Stage", "plan_stages", "run_side_by_side"]


class Messenger:
    """Progress for the thread that built it only: ``progress(message)`` and, as each section
    finishes, ``on_section(done, total, name)``. What other threads report waits in a queue until
    that thread reports something or ``flush``es (a UI may only be updated from its own thread)."""

    def __init__(self, progress: Callable[[str], None] | None,
                 on_section: Callable[[int, int, str], None] | None) -> None:
        self.progress, self.on_section, self.owner = progress, on_section, threading.get_ident()
        self.inbox: queue.SimpleQueue[tuple[bool, str]] = queue.SimpleQueue()
        self.done, self.total = 0, 1

    def __call__(self, message: str) -> None:
        if self.progress is not None:
            self._post(False, message)

    def section_done(self, name: str) -> None:
        self._post(True, name)

    def _post(self, section: bool, text: str) -> None:
        if threading.get_ident() != self.owner:
            self.inbox.put((section, text))
            return
        self.flush()
        self._deliver(section, text)

    def _deliver(self, section: bool, text: str) -> None:
        if section:
            self.done += 1
            if self.on_section is not None:
                self.on_section(self.done, self.total, text)
        elif self.progress is not None:
            self.progress(text)

    def flush(self) -> None:
        if threading.get_ident() != self.owner:
            return
        while True:
            try:
                section, text = self.inbox.get_nowait()
            except queue.Empty:
                return
            self._deliver(section, text)


def plan_stages(chosen: tuple[str, ...], stages: tuple[Stage, ...]) -> list[Stage]:
    """``stages`` restricted to the chosen sections (metrics runs for metrics or calibration)."""
    wanted = set(chosen) | ({"metrics"} if "calibration" in chosen else set())
    plan = []
    for stage in stages:
        lanes = tuple(kept for kept in (tuple(n for n in lane if n in wanted) for lane in stage) if kept)
        if lanes:
            plan.append(lanes)
    return plan


def run_side_by_side(stage: Stage, run_lane: Callable[..., None], flush: Callable[[], None]) -> None:
    """Run ``stage``: its first lane on this thread, the others on worker threads.

    ``run_lane(lane, single_threaded_native=...)`` runs one lane; ``flush`` delivers what the
    worker threads reported, on this thread, while they run. A worker's exception is re-raised here.
    """
    if len(stage) == 1:
        run_lane(stage[0])
        return
    # beside another lane, OpenMP workers (gradient-boosting predictions) would spin at
    # their barriers while the other lane holds a core: one OpenMP thread per lane
    errors: list[BaseException] = []

    def lane_thread(lane: tuple[str, ...]) -> None:
        try:
            run_lane(lane, single_threaded_native=True)
        except BaseException as exc:  # noqa: BLE001 - re-raised on the calling thread
            errors.append(exc)

    threads = [threading.Thread(target=lane_thread, args=(lane,), name=f"evidence-{lane[0]}", daemon=True)
               for lane in stage[1:]]
    for th in threads:
        th.start()
    run_lane(stage[0], single_threaded_native=True)
    for th in threads:
        while th.is_alive():
            th.join(0.2)
            flush()
    flush()
    if errors:
        raise errors[0]
