"""Pools held by Dask: scored where the chunks live.

The model sent once to the workers, the pool scored chunk by chunk
where it lives, and only the picked rows brought back (``dask_scoring``,
``dask_selection``, ``dask_strategies``); kernel herding's neighbour graph
searched where the codes live (``dask_neighbours``, ``dask_herding``).
"""
