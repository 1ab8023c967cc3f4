"""Former home of cluster-IBAL; it lives in :mod:`modal_ibal.strategies.cluster_ibal` now.

Kept so that ``from modal_ibal.cluster import ...`` keeps working.
"""

from .strategies.cluster_ibal import disagreement_ranks, ibal_cluster_sampling  # noqa: F401
