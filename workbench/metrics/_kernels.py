"""Lazily compiled numba kernels: numba is imported on first use, not at module import.

A module defines its kernels inside a builder decorated with :func:`lazy_kernel`; the first
call imports numba (which loads the machine code from its on-disk cache, ``cache=True``) and
every later call returns the same objects.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import wraps
from typing import TypeVar

__all__ = ["lazy_kernel"]

T = TypeVar("T")


def lazy_kernel(build: Callable[[], T]) -> Callable[[], T]:
    """``build()`` run once, on the first call, even when worker threads ask at the same time.

    Examples
    --------
    >>> calls = []
    >>> @lazy_kernel
    ... def kernel():
    ...     calls.append(1)
    ...     return abs
    >>> kernel()(-2), kernel() is kernel(), len(calls)
    (2, True, 1)
    """
    lock = threading.Lock()
    built: list[T] = []

    @wraps(build)
    def get() -> T:
        if not built:
            with lock:
                if not built:
                    built.append(build())
        return built[0]

    return get
