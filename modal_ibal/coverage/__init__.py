"""Coverage engines behind the diversity strategies, on codes.

``clusters``: TypiClust's clusters and typicality; ``balls``: ProbCover's greedy
max coverage of balls; ``kernel``: the truncated Gaussian k-NN kernel graph; ``herding``:
the greedy of kernel herding on that graph (MaxHerding, with UHerding-style weights);
and ``concave``: herding's concave per-cluster coverage, which finds rare classes.
"""

from ._balls import greedy_max_coverage
from .herding import UninformativeWeightsWarning, greedy_kernel_herding
from .kernel import knn_kernel_graph

__all__ = [
    "UninformativeWeightsWarning",
    "greedy_kernel_herding",
    "greedy_max_coverage",
    "knn_kernel_graph",
]

