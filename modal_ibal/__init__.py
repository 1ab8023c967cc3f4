"""modal-ibal: data-importance active learning (IBAL, IBAL-D) for modAL, skorch and scikit-learn.

Importing the package makes modAL 0.4.2.1's ``ActiveLearner`` work on current
scikit-learn (see :mod:`modal_ibal._compat`); nothing else happens at import.
"""

from ._compat import patch_modal_check_X_y
from .distance import nearest_labelled_distance, normalise_by_max
from .extract import LastLayer, LastLayerOutputs, last_layer
from .representer import (
    READINGS,
    class_feature_sums,
    ibal_scores,
    literal_ibal_scores,
    refit_last_layer,
    representer_logits,
    representer_weights,
)
from .selection import select_highest, select_lowest
from .strategies import (
    IBAL_READINGS,
    entropy_distance_sampling,
    ibal_distance_sampling,
    ibal_sampling,
    labelled_view,
    predictive_entropy,
    representer_importance,
)

patch_modal_check_X_y()

__version__ = "0.1.0"

__all__ = [
    "IBAL_READINGS",
    "READINGS",
    "LastLayer",
    "LastLayerOutputs",
    "class_feature_sums",
    "entropy_distance_sampling",
    "ibal_distance_sampling",
    "ibal_sampling",
    "ibal_scores",
    "labelled_view",
    "last_layer",
    "literal_ibal_scores",
    "nearest_labelled_distance",
    "normalise_by_max",
    "predictive_entropy",
    "refit_last_layer",
    "representer_importance",
    "representer_logits",
    "representer_weights",
    "select_highest",
    "select_lowest",
]
