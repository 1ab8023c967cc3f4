"""Scores of pool points, from what the readers return.

``representer`` is the representer-point math (Yeh et al. 2018; the IBAL score of
Eq. 2 in every reading), ``refit`` the L-BFGS refit of the last layer the
``finetuned`` reading needs, ``importance`` the scoring of a pool from a model's
view, in chunks. ``uncertainty`` holds entropy, margin and the margin weights,
``distance_term`` the trade-off of Eq. 4, ``calibration`` temperature scaling,
``selection`` the picking of the lowest or highest scores.
"""

from .importance import representer_importance
from .representer import READINGS, ibal_scores
from .selection import TiedScoresWarning, select_highest, select_lowest
from .uncertainty import predictive_entropy

__all__ = [
    "READINGS",
    "TiedScoresWarning",
    "ibal_scores",
    "predictive_entropy",
    "representer_importance",
    "select_highest",
    "select_lowest",
]

