"""Coverage engines behind the diversity strategies, on codes.

``clusters``: TypiClust's clusters and typicality; ``balls``: ProbCover's greedy
max coverage of balls; ``kernel``: the truncated Gaussian k-NN kernel graph; ``herding``:
the greedy of kernel herding on that graph (MaxHerding, with UHerding-style weights);
and ``concave``: herding's concave per-cluster coverage, which finds rare classes.
``herding_graph`` goes from a query's codes to the graph and clusters herding runs on,
in memory or on a Dask array (whose codes ``dask_codes`` scales and clusters).
"""

from ._balls import greedy_max_coverage
from ._clusters import (
    DEFAULT_MAX_CLUSTER_SAMPLES,
    TYPICALITY_N_NEIGHBORS,
    safe_scale_exponent,
    typical_picks,
)
from ._herding import (
    UninformativeWeightsWarning,
    check_herding_options,
    greedy_kernel_herding,
    herding_batch,
)
from ._herding_graph import dask_herding_graph, herding_graph
from ._kernel import DEFAULT_N_NEIGHBORS, knn_kernel_graph

__all__ = [
    "DEFAULT_MAX_CLUSTER_SAMPLES",
    "DEFAULT_N_NEIGHBORS",
    "TYPICALITY_N_NEIGHBORS",
    "UninformativeWeightsWarning",
    "check_herding_options",
    "dask_herding_graph",
    "greedy_kernel_herding",
    "greedy_max_coverage",
    "herding_batch",
    "herding_graph",
    "knn_kernel_graph",
    "safe_scale_exponent",
    "typical_picks",
]
