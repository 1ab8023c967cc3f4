"""How long a query waits for a Dask cluster, and what it says when nothing comes.

Every wait of a query on a ``distributed`` cluster is bounded: tasks whose workers
are all gone would otherwise wait forever for a worker. The bound is
:data:`QUERY_TIMEOUT` (600 s) unless the Dask config key ``modal_ibal.query-timeout``
says otherwise.
"""

from __future__ import annotations

import numpy as np

__all__ = ["QUERY_TIMEOUT", "QUERY_TIMEOUT_KEY", "no_result", "query_timeout"]

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
