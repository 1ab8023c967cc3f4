"""Search engines on codes, independent of any model.

``nearest_labelled`` is the exact distance to the nearest labelled point
(:math:`D(x)` of Eq. 4), computed in ``screened`` float32 blocks with a float64
re-check, optionally skipping the labelled k-means ``cells``; ``distance_cache``
keeps it across a modAL loop. ``knn`` finds k nearest neighbours, exactly
(``knn_exact``, or FAISS's flat index: ``knn_faiss``) or over an inverted file
(``knn_partitioned``), whose ``recall`` is measured on a sample as it runs.
``kmeans`` is the one k-means (k-means++ seeds, Lloyd iterations, nearest centres) and ``hashing``
the one content hash of rows.
"""

from ._distance_cache import LabelledDistanceCache
from ._nearest_labelled import nearest_labelled_distance, nearest_labelled_index
from .knn import nearest_neighbours
from .recall import SearchRecallWarning

__all__ = [
    "LabelledDistanceCache",
    "SearchRecallWarning",
    "nearest_labelled_distance",
    "nearest_labelled_index",
    "nearest_neighbours",
]

