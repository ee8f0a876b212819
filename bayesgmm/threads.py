"""Threads: how many a pass may use, and BLAS held to one while our own threads run.

BLAS's thread count is a property of the process, not of a fit: when two fits run in
two threads and each holds BLAS to one thread with its own ``threadpoolctl`` context,
the one that leaves last restores what the other had set, and OpenBLAS stays at one
thread for the rest of the process. :func:`single_threaded_blas` therefore counts its
holders: the first one in lowers the limit, the last one out restores the original,
whatever the order in which threads leave.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["single_threaded_blas", "available_threads"]

_lock = threading.Lock()
_holders = 0
_limiter: Any = None
_original_threads: int | None = None
_view: tuple[int, Any] | None = None


def _controller() -> Any:
    """threadpoolctl's view of the BLAS libraries loaded in this process (read only).

    Reading the process's libraries takes milliseconds, too long to repeat for every
    start of a fit, so the view is kept while the set of imported modules stays the
    same: a BLAS that arrives later (SciPy's own OpenBLAS, loaded by an import after the
    first fit) comes with new modules, and the view is then made afresh.
    """
    global _view
    n_modules = len(sys.modules)
    view = _view
    if view is None or view[0] != n_modules:
        from threadpoolctl import ThreadpoolController

        view = _view = (n_modules, ThreadpoolController())
    return view[1]


def _blas_threads() -> int | None:
    counts = [lib.num_threads for lib in _controller().lib_controllers if lib.user_api == "blas"]
    return min(counts) if counts else None


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """BLAS at one thread inside the block, for passes whose parallelism is ours.

    Safe to nest and to enter from several threads at once.

    Examples
    --------
    >>> with single_threaded_blas():
    ...     pass
    """
    global _holders, _limiter, _original_threads
    with _lock:
        if _holders == 0:
            _original_threads = _blas_threads()
            _limiter = _controller().limit(limits=1, user_api="blas")
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0:
                _limiter.restore_original_limits()
                _limiter = None
                _original_threads = None


def available_threads() -> int:
    """Worker threads for a pass: the threads BLAS may use outside our own limits.

    ``threadpoolctl.threadpool_limits(n)`` around a fit therefore pins both BLAS and the
    engine to ``n`` threads.

    Examples
    --------
    >>> available_threads() >= 1
    True
    """
    with _lock:
        count = _original_threads if _holders else None
    if count is None:
        count = _blas_threads()
    if count is None:
        count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    return max(1, count)
