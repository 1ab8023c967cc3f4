"""One re-entrant lock per object, and one hold of process-wide state, for every thread.

A torch module's forward hooks and train/eval flags belong to the module, not to
a thread: two threads that query one model at once (a web service, a labelling
back end, Dask's local threads) would record each other's batches. Whoever
touches that state holds the module's lock (:func:`object_lock`). Process-wide
settings that a query changes and must give back (BLAS thread limits, the global
random generators) are set by the first of overlapping contexts and restored by
the last (:class:`SharedHold`).
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["SharedHold", "object_lock"]

_LOCKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCKS_LOCK = threading.Lock()


def object_lock(obj: Any) -> threading.RLock:
    """The re-entrant lock of ``obj`` (made on first use, dropped with ``obj``).

    Parameters
    ----------
    obj : object
        Any object that accepts weak references (a torch module does).

    Returns
    -------
    threading.RLock
    """
    with _LOCKS_LOCK:
        lock = _LOCKS.get(obj)
        if lock is None:
            lock = _LOCKS[obj] = threading.RLock()
        return lock


class SharedHold:
    """Process-wide state changed by the first of overlapping contexts, given back by the last.

    Contexts entered and left in any order, from any threads, never leave the
    state changed, and none restores what another one's work left behind.

    Parameters
    ----------
    take : callable
        ``take()`` changes the state and returns what ``give_back`` needs.
    give_back : callable
        ``give_back(taken)`` restores the state.
    """

    def __init__(self, take: Callable[[], Any], give_back: Callable[[Any], None]):
        self._take, self._give_back = take, give_back
        self._lock = threading.Lock()
        self._holders = 0  # contexts inside now, over all threads
        self._taken = None  # what the first of them took, given back by the last

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """A context inside which the state is taken."""
        with self._lock:
            if self._holders == 0:
                self._taken = self._take()
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0:
                    taken, self._taken = self._taken, None
                    self._give_back(taken)
