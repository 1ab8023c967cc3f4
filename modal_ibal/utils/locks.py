"""One re-entrant lock per object, for state that every thread of a process shares.

A torch module's forward hooks and train/eval flags belong to the module, not to
a thread: two threads that query one model at once (a web service, a labelling
back end, Dask's local threads) would record each other's batches. Whoever
touches that state holds the module's lock.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

__all__ = ["object_lock"]

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
