"""Ctrl-C that stops an experiment, even where a library swallows it.

skorch's ``fit`` catches ``KeyboardInterrupt`` and ends training early, and modAL's
``query`` calls a strategy again after any exception: an interrupted run would go on
and write other numbers. :func:`stop_on_interrupt` makes SIGINT raise at once and
remembers it, so that a step that swallowed it is stopped right after.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator

__all__ = ["stop_on_interrupt", "unless_interrupted"]


@contextlib.contextmanager
def stop_on_interrupt() -> Iterator[Callable[[], None]]:
    """Make SIGINT raise ``KeyboardInterrupt`` in the block, in the main thread unless ignored.

    Yields ``check()``, which raises it again after a step that swallowed it.
    """
    interrupted = threading.Event()

    def check() -> None:
        if interrupted.is_set():
            raise KeyboardInterrupt

    def handle(signum, frame) -> None:
        interrupted.set()
        raise KeyboardInterrupt

    previous = signal.getsignal(signal.SIGINT)  # None: not set from Python
    with contextlib.ExitStack() as restore:
        if threading.current_thread() is threading.main_thread() and previous != signal.SIG_IGN:
            restore.callback(signal.signal, signal.SIGINT, previous or signal.SIG_DFL)
            signal.signal(signal.SIGINT, handle)
        yield check


def unless_interrupted(check: Callable[[], None], strategy: Callable, *args, **kwargs):
    """``strategy(*args, **kwargs)`` after ``check()``: modAL calls it again after an interrupt."""
    check()
    return strategy(*args, **kwargs)
