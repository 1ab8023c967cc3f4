"""Coverage engines behind the diversity strategies, on codes.

``clusters``: TypiClust's clusters and typicality; ``balls``: ProbCover's greedy
max coverage of balls; ``kernel``: the truncated Gaussian k-NN kernel graph; ``herding``:
the greedy of kernel herding on that graph (MaxHerding, with UHerding-style weights);
and ``concave``: herding's concave per-cluster coverage, which finds rare classes.
"""

from ._balls import greedy_max_coverage
from ._clusters import (
    DEFAULT_MAX_CLUSTER_SAMPLES,
    TYPICALITY_N_NEIGHBORS,
    safe_scale_exponent,
    typical_picks,
)
from ._concave import (
    COVERAGE_CLUSTER_SAMPLES,
    MAX_COVERAGE_CLUSTERS,
    cluster_random_state,
    coverage_clusters,
    n_coverage_clusters,
)
from ._herding import (
    UninformativeWeightsWarning,
    check_herding_options,
    greedy_kernel_herding,
    herding_batch,
)
from ._kernel import (
    DEFAULT_N_NEIGHBORS,
    kernel_codes,
    kernel_graph,
    knn_kernel_graph,
    labelled_bandwidth,
    neighbour_kernel_graph,
    rows_normalized,
    unit_rows,
)

__all__ = [
    "COVERAGE_CLUSTER_SAMPLES",
    "DEFAULT_MAX_CLUSTER_SAMPLES",
    "DEFAULT_N_NEIGHBORS",
    "MAX_COVERAGE_CLUSTERS",
    "TYPICALITY_N_NEIGHBORS",
    "UninformativeWeightsWarning",
    "check_herding_options",
    "cluster_random_state",
    "coverage_clusters",
    "greedy_kernel_herding",
    "greedy_max_coverage",
    "herding_batch",
    "kernel_codes",
    "kernel_graph",
    "knn_kernel_graph",
    "labelled_bandwidth",
    "n_coverage_clusters",
    "neighbour_kernel_graph",
    "rows_normalized",
    "safe_scale_exponent",
    "typical_picks",
    "unit_rows",
]

