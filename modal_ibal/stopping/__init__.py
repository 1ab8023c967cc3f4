"""Stopping criteria: when further labels are no longer worth their cost.

Stabilising predictions (plain and class-balanced agreement between successive
models), overall uncertainty, a label budget, and the saturation of the coverage
still to be won. Each is updated after every ``teach`` of a modAL loop and says
whether to stop.
"""

from ._agreement import class_balanced_agreement, cohens_kappa
from ._coverage_gain import CoverageSaturation
from ._criteria import (
    LabelBudget,
    OverallUncertainty,
    StabilizingPredictions,
    StoppingCriterion,
    StopSignal,
    rule_fires,
)

__all__ = [
    "CoverageSaturation",
    "LabelBudget",
    "OverallUncertainty",
    "StabilizingPredictions",
    "StopSignal",
    "StoppingCriterion",
    "class_balanced_agreement",
    "cohens_kappa",
    "rule_fires",
]
