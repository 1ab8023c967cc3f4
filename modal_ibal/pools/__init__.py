"""Pools held by Dask: scored where the chunks live.

The model sent once to the workers, the pool scored chunk by chunk where it
lives, and only the picked rows brought back (``dask_scoring``,
``dask_selection``, ``dask_strategies``); kernel herding's codes and weights
computed where the chunks live, its neighbour graph searched there by
:mod:`modal_ibal.search`, and the greedy run here (``dask_herding``). The
strategies hand a Dask array pool to these queries; users call the strategies.
"""

from ._dask_herding import dask_herding_query
from ._dask_strategies import dask_query, dask_rowwise_query, dask_uniform_query

__all__ = ["dask_herding_query", "dask_query", "dask_rowwise_query", "dask_uniform_query"]
