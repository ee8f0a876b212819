"""Ctrl-C that reaches Python but is lost on the way, raised again where it is safe.

Python raises ``KeyboardInterrupt`` at the next bytecode of the main thread, wherever
that is. Some places swallow it: PyMC's samplers and optimiser catch it and return what
they have (a NUTS fit then looked finished, with a third of its draws missing), and
numba's compiler calls back into Python from LLVM through ctypes, which prints the
exception as "ignored" and goes on (a first fit, compiling its kernels, ran on to the
end after Ctrl-C). :func:`reraise_interrupts` notes every Ctrl-C while its block runs;
the block raises ``KeyboardInterrupt`` again when it ends, and long loops inside it
call :func:`raise_if_interrupted` between their steps (``select`` between its fits).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["reraise_interrupts", "raise_if_interrupted"]

#: The signals noted by every active :func:`reraise_interrupts` block, innermost last.
_NOTED: list[list[int]] = []


@contextlib.contextmanager
def reraise_interrupts() -> Iterator[None]:
    """Raise ``KeyboardInterrupt`` after the block if Ctrl-C came while it ran.

    In the main thread, while Python handles SIGINT (its default), the block runs under
    a handler that notes the signal and then calls the previous one (which raises
    ``KeyboardInterrupt`` where the block is). Code inside that catches the exception
    and returns normally (PyMC's samplers do), or fails for want of what the interrupt
    stopped, is overruled: ``KeyboardInterrupt`` is raised when the block ends.
    Elsewhere (other threads, SIGINT ignored or set by the caller to something that is
    not Python's) the block runs unchanged.

    Examples
    --------
    >>> try:
    ...     with reraise_interrupts():
    ...         try:
    ...             signal.raise_signal(signal.SIGINT)  # Ctrl-C
    ...         except KeyboardInterrupt:
    ...             pass  # swallowed, as PyMC's samplers do
    ... except KeyboardInterrupt:
    ...     print("raised again")
    raised again
    """
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield
        return
    interrupted: list[int] = []

    def note(signum: int, frame: Any) -> None:
        interrupted.append(signum)
        previous(signum, frame)

    signal.signal(signal.SIGINT, note)
    _NOTED.append(interrupted)
    try:
        yield
    except Exception as error:  # what the swallowed interrupt left behind
        if interrupted:  # (PyMC: "Not enough samples to build a trace")
            raise KeyboardInterrupt from error
        raise
    finally:
        _NOTED.remove(interrupted)
        signal.signal(signal.SIGINT, previous)
    if interrupted:
        raise KeyboardInterrupt


def raise_if_interrupted() -> None:
    """Raise ``KeyboardInterrupt`` if Ctrl-C came during an enclosing
    :func:`reraise_interrupts` block (and was swallowed: it is raised again here)."""
    if any(_NOTED):
        raise KeyboardInterrupt
