"""Dask computations a query waits for: bounded in time, and clear when workers die or nothing comes.

Every wait of a query on a ``distributed`` cluster is bounded: tasks whose workers
are all gone would otherwise wait forever for a worker. The bound is
:data:`QUERY_TIMEOUT` (600 s) unless the Dask config key ``modal_ibal.query-timeout``
says otherwise.
"""

from __future__ import annotations

import sys
import time

import numpy as np

__all__ = [
    "QUERY_TIMEOUT",
    "QUERY_TIMEOUT_KEY",
    "computed",
    "no_result",
    "query_timeout",
    "running_client",
    "workers_died",
]

QUERY_TIMEOUT = 600.0
"""Seconds each wait of a query on a distributed cluster may last, unless configured otherwise."""

QUERY_TIMEOUT_KEY = "modal_ibal.query-timeout"
"""The Dask config key that overrides :data:`QUERY_TIMEOUT`: seconds, or a duration ("20 minutes")."""


def query_timeout() -> float:
    """Seconds each wait of a query on a distributed cluster may last before the query fails.

    The Dask config value ``modal_ibal.query-timeout`` when set (e.g.
    ``dask.config.set({"modal_ibal.query-timeout": "30 minutes"})``, or the
    environment variable ``DASK_MODAL_IBAL__QUERY_TIMEOUT``), else
    :data:`QUERY_TIMEOUT`.

    Returns
    -------
    float
        Finite and > 0.

    Raises
    ------
    ValueError
        If the configured value is not a finite duration > 0.
    """
    import dask
    from dask.utils import parse_timedelta

    value = dask.config.get(QUERY_TIMEOUT_KEY, None)
    value = QUERY_TIMEOUT if value is None else value
    try:
        seconds = None if isinstance(value, bool) else parse_timedelta(value, default="seconds")
    except (KeyError, TypeError, ValueError):
        seconds = None
    if seconds is None or not np.isfinite(seconds) or seconds <= 0:
        raise ValueError(
            f"The Dask config value '{QUERY_TIMEOUT_KEY}' must be a finite number of seconds "
            f"> 0 or a duration such as '20 minutes'. Got {value!r} instead."
        )
    return float(seconds)


def no_result(what: str, timeout: float, client) -> TimeoutError:
    """The error of a wait on ``client`` that got no result within ``timeout`` seconds.

    ``what`` says what was awaited, e.g. "No Dask worker loaded the model".
    """
    dashboard = getattr(client, "dashboard_link", None)
    where = f" or the dashboard at {dashboard}" if dashboard else ""
    return TimeoutError(
        f"{what} within {timeout:g} s, so the query gave up. Check that the cluster has running "
        f"workers (client.scheduler_info()['workers']{where}) and that they are not stuck or "
        "out of memory. A query that needs longer can be given more time with "
        f"dask.config.set({{'{QUERY_TIMEOUT_KEY}': seconds}})."
    )


def running_client():
    """The running ``distributed.Client`` that a ``compute`` would use now, or None.

    None when the active scheduler is Dask's local threads (no client set up,
    the one set up closed, or a local scheduler chosen with ``dask.config.set``).
    """
    from dask.base import get_scheduler

    client = getattr(get_scheduler(), "__self__", None)  # the Client whose get would compute
    distributed = sys.modules.get("distributed")  # imported wherever a Client exists
    if distributed is None or not isinstance(client, distributed.Client) \
            or client.status != "running":
        return None
    return client


def workers_died(error: BaseException) -> RuntimeError:
    """The error of a query whose workers died each time they ran one of its tasks."""
    return RuntimeError(
        "Dask workers died each time they scored part of the pool, so the query gave up "
        f"({error}). A worker that dies on every attempt usually runs out of memory or "
        "crashes inside the model's forward pass: read the worker logs, give the workers "
        "more memory, or cut the pool into smaller row chunks (X_pool.rechunk)."
    )


def computed(collection):
    """``collection`` computed, within the query's time bound; workers that die raise a clear error.

    A list is computed item by item in one graph (items that are not Dask
    collections pass through) and comes back as a list.

    On a running ``distributed.Client`` (set up as the default, or passed as
    ``dask.config.set(scheduler=client.get)``) the result is waited for at most
    :func:`~modal_ibal._utils.dask_waits.query_timeout` seconds (600 by default):
    tasks whose workers are all gone would otherwise wait forever for a worker.
    On Dask's local schedulers the tasks run in this process, and nothing waits
    on a worker that died.

    Raises
    ------
    TimeoutError
        When the cluster gives no result in time: the tasks are cancelled and
        the message says what to look at and how to allow more time.
    RuntimeError
        When the workers died each time they ran one of the tasks: the
        scheduler moves a task whose worker died to another worker, a few times
        (``distributed.scheduler.allowed-failures``, 3 by default), then gives
        up with ``KilledWorker``; the message says what to look at, not a task key.
    """
    killed = getattr(sys.modules.get("distributed"), "KilledWorker", ())  # () catches nothing
    import dask

    items = collection if isinstance(collection, list) else [collection]
    client = running_client()
    try:
        if client is None:  # local threads: plain compute
            results = list(dask.compute(*items))
        else:
            results = _computed_on(client, items, query_timeout())
    except killed as error:
        raise workers_died(error) from error
    return results if isinstance(collection, list) else results[0]


def _computed_on(client, items: list, timeout: float) -> list:
    """``items`` computed by ``client`` in one graph, every result within ``timeout`` seconds.

    Waited on through the futures' own client, default or not; on timeout the
    futures are cancelled, so the cluster does not go on with a query that failed.
    """
    import distributed

    results = client.compute(items)  # futures where items are collections, else the items
    futures = [result for result in results if isinstance(result, distributed.Future)]
    deadline = time.monotonic() + timeout
    try:
        return [result.result(timeout=max(deadline - time.monotonic(), 1e-3))
                if isinstance(result, distributed.Future) else result for result in results]
    except TimeoutError:
        failed = any(future.status == "error" for future in futures)  # a task's own TimeoutError
        client.cancel(futures)
        if failed:
            raise
        raise no_result("No result from the Dask cluster", timeout, client) from None
    except BaseException:
        client.cancel(futures)
        raise
