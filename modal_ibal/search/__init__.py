"""Search engines on codes, independent of any model.

``nearest_labelled`` is the exact distance to the nearest labelled point
(:math:`D(x)` of Eq. 4), computed in ``screened`` float32 blocks with a float64
re-check, optionally skipping the labelled k-means ``cells``; ``distance_cache``
keeps it across a modAL loop. ``knn`` finds k nearest neighbours, exactly
(``knn_exact``, or FAISS's flat index: ``knn_faiss``) or over an inverted file
(``knn_partitioned``), whose ``recall`` is measured on a sample as it runs; the
same inverted-file search runs on a Dask array where its chunks live
(``dask_neighbours``, its recall checked by ``dask_recall``). ``kmeans`` is the
one k-means (k-means++ seeds, Lloyd iterations, nearest centres).
"""

from ._cells import LabelledCells, uses_cells
from ._dask_neighbours import check_dask_search
from ._dask_recall import checked_dask_neighbours
from ._distance_cache import LabelledDistanceCache
from ._kmeans import kmeans_plus_plus_seeds, nearest_centre_distance
from ._knn import check_algorithm, nearest_neighbours, searched_neighbours, searches_exactly
from ._knn_exact import check_points
from ._nearest_labelled import nearest_labelled_distance, nearest_labelled_index
from ._recall import SearchRecallWarning

__all__ = [
    "LabelledCells",
    "LabelledDistanceCache",
    "SearchRecallWarning",
    "check_algorithm",
    "check_dask_search",
    "check_points",
    "checked_dask_neighbours",
    "kmeans_plus_plus_seeds",
    "nearest_centre_distance",
    "nearest_labelled_distance",
    "nearest_labelled_index",
    "nearest_neighbours",
    "searched_neighbours",
    "searches_exactly",
    "uses_cells",
]

