"""Progress display: on by default where a person watches, off in pipes, logs and tests.

Library code prints nothing unless asked (DESIGN.md), but a fit that runs for a minute in
a notebook and shows nothing looks hung. So the estimators' and :func:`~bayesgmm.select`'s
``progress`` options default to None, "auto": a bar is shown when the session is
interactive (a terminal, as rich's :class:`~rich.console.Console` sees stderr, or a
Jupyter notebook) and not under pytest, and, for loops of our own, only once the work
has run for ``delay`` seconds (a fit of a second shows nothing). NUTS samplers draw their
own bars (nutpie's, PyMC's rich bar); :class:`DelayedProgress` draws ours with rich,
which PyMC depends on.
"""

from __future__ import annotations

import os
import time
from typing import Any

__all__ = ["AUTO_DELAY", "DelayedProgress", "interactive", "resolve_progress"]

AUTO_DELAY = 2.0
"""Seconds of work before an "auto" bar of our own loops appears."""


def interactive() -> bool:
    """Whether a person is likely watching: stderr is a terminal, or this is Jupyter.

    False under pytest (whose ``-s`` hands tests the terminal) and when stderr is a
    pipe or a file.

    Examples
    --------
    >>> interactive()  # doctests run under pytest
    False
    """
    if "PYTEST_CURRENT_TEST" in os.environ:
        return False
    from rich.console import Console

    console = Console(stderr=True)
    return bool(console.is_jupyter or console.is_interactive)


def resolve_progress(progress: Any, name: str = "progress") -> tuple[bool, float]:
    """``progress`` as (show a bar, after how many seconds).

    True: always, at once; False: never; None ("auto"): in interactive sessions
    (:func:`interactive`), once the work has run ``AUTO_DELAY`` seconds.

    Raises
    ------
    TypeError
        When ``progress`` is neither a bool nor None.

    Examples
    --------
    >>> resolve_progress(True), resolve_progress(None)
    ((True, 0.0), (False, 2.0))
    """
    if progress is None:
        return interactive(), AUTO_DELAY
    if not isinstance(progress, bool):
        raise TypeError(
            f"{name} must be True, False or None (a bar in interactive sessions); got {progress!r}."
        )
    return progress, 0.0


class DelayedProgress:
    """A rich progress bar that appears only once the work has run ``delay`` seconds.

    Parameters
    ----------
    total : int or None
        Steps in all (None: unknown, a spinner with a count).
    description : str
    enabled : bool
        False: nothing is ever drawn.
    delay : float, default=AUTO_DELAY

    Examples
    --------
    >>> with DelayedProgress(3, "fits", enabled=False) as bar:
    ...     for _ in range(3):
    ...         bar.advance("K=1")
    >>> bar.completed
    3
    """

    def __init__(
        self, total: int | None, description: str, enabled: bool, delay: float = AUTO_DELAY
    ) -> None:
        self.total = total
        self.description = description
        self.enabled = enabled
        self.delay = delay
        self.completed = 0
        self._started = time.perf_counter()
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> DelayedProgress:
        self._started = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def advance(self, status: str = "", steps: int = 1) -> None:
        """Count ``steps`` done; show the bar if enabled and ``delay`` has passed."""
        self.completed += steps
        if not self.enabled:
            return
        if self._progress is None:
            if time.perf_counter() - self._started < self.delay:
                return
            self._start()
        self._progress.update(self._task, completed=self.completed, status=status)

    def _start(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        columns = [SpinnerColumn(), TextColumn("{task.description}")]
        if self.total is not None:
            columns += [BarColumn(), MofNCompleteColumn()]
        columns += [TimeElapsedColumn(), TextColumn("{task.fields[status]}")]
        self._progress = Progress(*columns, console=Console(stderr=True))
        self._task = self._progress.add_task(self.description, total=self.total, status="")
        self._progress.start()
