r"""Stopping criteria for an active-learning loop: when are more labels no longer worth it?

Each criterion is updated once after every ``teach`` with the learner (or a fitted
estimator and its labelled set), records one number and says whether to stop::

    stop = StabilizingPredictions(X_stop)
    while not stop.update(learner):
        query_index, _ = learner.query(X_pool, n_instances=20)
        learner.teach(X_pool[query_index], oracle(query_index))
        X_pool = np.delete(X_pool, query_index, axis=0)

They work with any strategy and any model with ``predict`` (``predict_proba`` for
:class:`OverallUncertainty`). :class:`CoverageSaturation` is in
:mod:`modal_ibal.stopping._coverage_gain`. The thresholds were chosen on the
measurements of ``python -m benchmarks.stopping`` (``benchmarks/README.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._utils.validation import (
    check_fraction,
    check_positive_int,
    check_samples,
    is_dask_array,
    n_samples,
)
from ..readers import DEFAULT_BATCH_SIZE, ModelAndLabels, model_and_labels, pool_probabilities
from ..scoring import predictive_entropy
from ._agreement import class_balanced_agreement, cohens_kappa

__all__ = [
    "LabelBudget",
    "OverallUncertainty",
    "StabilizingPredictions",
    "StopSignal",
    "StoppingCriterion",
    "rule_fires",
]


@dataclass(frozen=True)
class StopSignal:
    """One update of a criterion.

    Attributes
    ----------
    n_labelled : int
        Labels held when it was measured.
    value : float
        The criterion's number (NaN while it cannot be measured, e.g. before a fitted model).
    stop : bool
        Whether the criterion said stop.
    """

    n_labelled: int
    value: float
    stop: bool


def rule_fires(values, threshold: float, *, window: int = 1, at_most: bool = False) -> bool:
    """Whether a threshold rule fires on the latest of ``values``: the mean of the last
    ``window`` values is at least ``threshold`` (``at_most``: at most it). It never fires on
    fewer than ``window`` values or on a NaN among them (a signal not measured yet)."""
    recent = np.asarray(list(values)[-window:], dtype=np.float64)
    if recent.size < window or not np.isfinite(recent).all():
        return False
    mean = float(recent.mean())
    return mean <= threshold if at_most else mean >= threshold


class StoppingCriterion:
    """What every criterion shares: ``update`` measures, records and decides.

    Attributes
    ----------
    history_ : list of StopSignal
        One entry per ``update``, oldest first.
    """

    name = "criterion"
    window = 1  # values averaged by the rule
    at_most = False  # the rule: the mean at least the threshold (True: at most)

    def __init__(self) -> None:
        self.history_: list[StopSignal] = []

    @property
    def stop_(self) -> bool:
        """Whether the last update said stop (False before any)."""
        return bool(self.history_) and self.history_[-1].stop

    def update(self, classifier, X_pool=None, *, X_labelled=None, y_labelled=None) -> bool:
        """Measure after a ``teach``, record a :class:`StopSignal` and return whether to stop.

        Parameters
        ----------
        classifier : modAL ActiveLearner or estimator
            The learner (its labelled set is ``X_training``), or an estimator with
            ``X_labelled``/``y_labelled``; not fitted yet means no labels.
        X_pool : array-like of shape (n_pool, ...), optional
            The unlabelled points (needed by :class:`CoverageSaturation` only).
        X_labelled, y_labelled : array-like, optional
            The labelled set, for a bare estimator or to override the learner's.

        Returns
        -------
        bool
        """
        start = model_and_labels(classifier, self._shape_source(X_pool), X_labelled,
                                   y_labelled)
        value = float(self._measure(start, X_pool))
        signal = StopSignal(int(n_samples(start.y_labelled)), value, bool(self._decide(value)))
        self.history_.append(signal)
        return signal.stop

    def reset(self) -> StoppingCriterion:
        """Forget every update (a new loop); returns self."""
        self.history_ = []
        return self

    def _shape_source(self, X_pool):
        return np.empty((0, 0)) if X_pool is None else X_pool

    def _measure(self, start: ModelAndLabels, X_pool) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def _decide(self, value: float) -> bool:
        """:func:`rule_fires` on the recorded values and ``value``."""
        return rule_fires([*(signal.value for signal in self.history_), value], self.threshold,
                          window=self.window, at_most=self.at_most)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._describe()})"

    def _describe(self) -> str:
        return ""


def _stop_set(X_stop: Any) -> Any:
    if is_dask_array(X_stop):
        raise TypeError("The 'X_stop' parameter must be held in memory; compute a sample of "
                        "the Dask pool first (a few thousand points are enough).")
    return check_samples(X_stop, "X_stop")


class StabilizingPredictions(StoppingCriterion):
    r"""Stop when successive models agree on a fixed set of unlabelled points.

    Parameters
    ----------
    X_stop : array-like of shape (n_stop, ...)
        The stop set: a fixed sample of the unlabelled pool (a few hundred to a
        few thousand points), the same at every update.
    threshold : float in (0, 1], default=0.99
        Stop when the mean agreement over the last ``window`` updates reaches it.
    window : int, default=3
        Successive agreements averaged.
    agreement : {'class-balanced', 'kappa'}, default='class-balanced'
        The class-balanced agreement
        (:func:`~modal_ibal.stopping.class_balanced_agreement`), which a
        rare class's changing predictions move as much as a common class's; or
        Cohen's kappa (:func:`~modal_ibal.stopping.cohens_kappa`), as
        Bloodgood and Vijay-Shanker.
    batch_size : int, default=4096
        Samples per forward pass.

    Notes
    -----
    The value recorded is the agreement of this update's predictions with the
    previous update's (NaN at the first, and while the model is not fitted).

    Measured on ``default_sampling``'s learning curves over nine data sets (the
    peer benchmark's and four long-tailed ones, 10 seeds, ``benchmarks/README.md``):
    with the defaults it stopped after 63% of the labels on average, fired on
    66% of the curves (never on the Fashion-MNIST sets, whose curves still
    rise), and lost at worst 0.028 balanced accuracy against the end of the
    curve (Shuttle, whose rarest classes weigh little in kappa); Cohen's kappa
    at the same threshold lost 0.047 there. Thresholds of 0.95 stopped earlier
    and lost up to 0.067 (class-balanced) or 0.151 (kappa).
    """

    name = "stabilizing-predictions"

    def __init__(self, X_stop, threshold: float = 0.99, window: int = 3,
                 agreement: str = "class-balanced",
                 batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        super().__init__()
        self.X_stop = _stop_set(X_stop)
        self.threshold = check_fraction(threshold, "threshold")
        self.window = check_positive_int(window, "window")
        if agreement not in ("class-balanced", "kappa"):
            raise ValueError("The 'agreement' parameter must be 'class-balanced' or 'kappa'. "
                             f"Got {agreement!r} instead.")
        self.agreement = agreement
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.predictions_: np.ndarray | None = None

    def reset(self) -> StabilizingPredictions:
        self.predictions_ = None
        return super().reset()

    def _measure(self, start: ModelAndLabels, X_pool) -> float:
        if not start.fitted:
            return np.nan
        predictions = np.asarray(start.estimator.predict(self.X_stop)).ravel()
        previous, self.predictions_ = self.predictions_, predictions
        if previous is None:
            return np.nan
        compare = cohens_kappa if self.agreement == "kappa" else class_balanced_agreement
        return compare(previous, predictions)

    def _describe(self) -> str:
        return (f"threshold={self.threshold}, window={self.window}, "
                f"agreement={self.agreement!r}")


class OverallUncertainty(StoppingCriterion):
    r"""Stop when the model is sure of itself on the stop set: low mean normalised entropy.

    .. math::  U = \frac{1}{|S|} \sum_{x \in S} \frac{H(p(\cdot \mid x))}{\log C}

    Parameters
    ----------
    X_stop : array-like of shape (n_stop, ...)
        A fixed sample of the unlabelled pool.
    threshold : float in (0, 1], default=0.01
        Stop when :math:`U` is at most this.
    batch_size : int, default=4096
        Samples per forward pass.

    Notes
    -----
    A model that is confidently wrong stops this criterion early; read it beside
    another. Measured as :class:`StabilizingPredictions` was: at 0.01 it stopped
    after 66% of the labels, fired on 46% of the curves and lost at worst 0.052
    balanced accuracy; at 0.05 (a common choice) the networks were that sure of
    themselves long before their curves flattened, and it lost up to 0.40
    (Shuttle) and 0.21 (long-tailed digits).
    """

    name = "overall-uncertainty"
    at_most = True

    def __init__(self, X_stop, threshold: float = 0.01,
                 batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        super().__init__()
        self.X_stop = _stop_set(X_stop)
        self.threshold = check_fraction(threshold, "threshold")
        self.batch_size = check_positive_int(batch_size, "batch_size")

    def _measure(self, start: ModelAndLabels, X_pool) -> float:
        if not start.fitted:
            return np.nan
        probas = pool_probabilities(start.estimator, self.X_stop, self.batch_size)
        n_classes = probas.shape[1]
        if n_classes < 2:
            return 0.0
        return float(np.mean(predictive_entropy(probas)) / np.log(n_classes))

    def _describe(self) -> str:
        return f"threshold={self.threshold}"


class LabelBudget(StoppingCriterion):
    """Stop once ``budget`` labels are held.

    Parameters
    ----------
    budget : int
        Labels to spend in all (the initial ones included).
    """

    name = "label-budget"

    def __init__(self, budget: int) -> None:
        super().__init__()
        self.budget = check_positive_int(budget, "budget")

    def _measure(self, start: ModelAndLabels, X_pool) -> float:
        return float(n_samples(start.y_labelled))

    def _decide(self, value: float) -> bool:
        return value >= self.budget

    def _describe(self) -> str:
        return f"budget={self.budget}"
