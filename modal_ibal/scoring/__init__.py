"""Scores of pool points, from what the readers return.

``representer`` is the representer-point math (Yeh et al. 2018; the IBAL score of
Eq. 2 in every reading), ``refit`` the L-BFGS refit of the last layer the
``finetuned`` reading needs, ``importance`` the scoring of a pool from a model's
view, in chunks. ``uncertainty`` holds entropy, margin and the margin weights,
``distance_term`` the trade-off of Eq. 4, ``calibration`` temperature scaling,
``selection`` the picking of the lowest or highest scores.
"""

from ._calibration import DEFAULT_TEMPERATURES, select_temperature, tempered_probabilities
from ._distance_term import (
    DEFAULT_GAMMA,
    check_distance_cache,
    entropy_distance_scores,
    ibal_distance_scores,
    normalise_by_max,
)
from ._importance import (
    ImportanceSummary,
    check_reading,
    importance_summary,
    representer_importance,
)
from ._representer import DEFAULT_READING, READINGS, fold_bias, ibal_scores
from ._selection import TiedScoresWarning, ranking_keys, select_highest, select_lowest
from ._uncertainty import (
    class_balanced_margin_weights,
    margin_weights,
    modal_entropy,
    modal_margin,
    per_class_share,
    predictive_entropy,
)

__all__ = [
    "DEFAULT_GAMMA",
    "DEFAULT_READING",
    "DEFAULT_TEMPERATURES",
    "READINGS",
    "ImportanceSummary",
    "TiedScoresWarning",
    "check_distance_cache",
    "check_reading",
    "class_balanced_margin_weights",
    "entropy_distance_scores",
    "fold_bias",
    "ibal_distance_scores",
    "ibal_scores",
    "importance_summary",
    "margin_weights",
    "modal_entropy",
    "modal_margin",
    "normalise_by_max",
    "per_class_share",
    "predictive_entropy",
    "ranking_keys",
    "representer_importance",
    "select_highest",
    "select_lowest",
    "select_temperature",
    "tempered_probabilities",
]

