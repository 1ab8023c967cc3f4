r"""What the benchmark times: every query strategy, and its work given the pool's outputs.

Each :class:`Strategy` is a query on a :class:`~benchmarks.workloads.Case` and,
where the library offers a way in, the same strategy's work given the pool's
final-layer outputs for free ("scoring"; the floor is added in the report):

* modAL's and the library's entropy and margin run unchanged on a stand-in
  classifier whose ``predict_proba`` serves the precomputed probabilities;
* core-set runs unchanged with an embedding that serves the precomputed features;
* IBAL builds a :class:`modal_ibal.readers.LabelledView` from the precomputed
  pool outputs (the labelled set's forward pass is part of the work) and calls
  :func:`~modal_ibal.scoring.representer_importance` and
  :func:`~modal_ibal.select_lowest`, as :func:`~modal_ibal.ibal_sampling` does;
* IBAL-D and entropy + D do the same with
  :func:`~modal_ibal.scoring.ibal_distance_scores` and
  :func:`~modal_ibal.scoring.entropy_distance_scores` at the library's default
  :math:`\gamma`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from modAL.uncertainty import entropy_sampling as modal_entropy_sampling
from sklearn.base import BaseEstimator, ClassifierMixin
from torch import nn

from modal_ibal import (
    badge_sampling,
    coreset_sampling,
    entropy_distance_sampling,
    entropy_sampling,
    ibal_distance_sampling,
    ibal_sampling,
    margin_sampling,
)
from modal_ibal.readers._last_layer import last_layer
from modal_ibal.readers._outputs import DEFAULT_BATCH_SIZE
from modal_ibal.readers._view import LabelledView
from modal_ibal.scoring._distance_term import (
    DEFAULT_GAMMA,
    entropy_distance_scores,
    ibal_distance_scores,
)
from modal_ibal.scoring._importance import representer_importance
from modal_ibal.scoring._representer import READINGS
from modal_ibal.scoring._selection import select_highest, select_lowest
from modal_ibal.scoring._uncertainty import modal_entropy

from .workloads import Case

ENTROPY = "modAL entropy_sampling"
FLOOR = "forward pass (floor)"


@dataclass(frozen=True)
class Strategy:
    """A timed query, and the same strategy's work given the pool's outputs (or None)."""

    name: str
    query: Callable[[Case], Any]
    scoring: Callable[[Case], Any] | None = None
    uses_labelled: bool = True


def forward_pass(module: nn.Module, X: np.ndarray, chunk: int = DEFAULT_BATCH_SIZE) -> torch.Tensor:
    """The floor: the module over the pool in contiguous chunks, eval mode, no autograd."""
    module.eval()
    with torch.no_grad():
        logits = [module(torch.from_numpy(X[start : start + chunk]))  # [b, C]
                  for start in range(0, len(X), chunk)]
    return torch.cat(logits)  # [N, C]


class _PrecomputedProbas(ClassifierMixin, BaseEstimator):
    """A fitted stand-in classifier whose ``predict_proba`` serves the pool's precomputed outputs."""

    def __init__(self, case: Case):
        self.case = case

    def fit(self, X, y):
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def predict_proba(self, X) -> np.ndarray:
        if X is not self.case.X_pool:
            raise ValueError("The stand-in classifier serves the pool's probabilities only.")
        return self.case.outputs.probas  # [N, C]


class _PrecomputedFeatures:
    """An embedding that serves the pool's precomputed features and reads any other set."""

    def __init__(self, case: Case):
        self.case = case

    def __call__(self, X) -> np.ndarray:
        if X is self.case.X_pool:
            return self.case.outputs.features  # [N, d]
        return last_layer(self.case.net).outputs(X).features  # [n, d]


def _view(case: Case) -> LabelledView:
    """A LabelledView from the precomputed pool outputs; the labelled pass is part of the work."""
    reader = last_layer(case.net)
    return LabelledView.with_pool_outputs(reader, case.X_pool, case.outputs,
                                          reader.outputs(case.X_labelled),
                                          reader.encode_labels(case.y_labelled), case.X_labelled)


def _ibal_scoring(reading: str) -> Callable[[Case], Any]:
    def score(case: Case):
        return select_lowest(representer_importance(_view(case), reading=reading),
                             case.n_instances)

    return score


def _ibal_distance_scoring(embedding: Callable[[Case], Any]) -> Callable[[Case], Any]:
    def score(case: Case):
        scores = ibal_distance_scores(_view(case), case.X_pool, gamma=DEFAULT_GAMMA,
                                      embedding=embedding(case))
        return select_lowest(scores, case.n_instances)

    return score


def _entropy_distance_scoring(case: Case):
    view = _view(case)
    scores = entropy_distance_scores(modal_entropy(view.pool.probas), view, case.X_pool,
                                     gamma=DEFAULT_GAMMA)
    return select_highest(scores, case.n_instances)


def strategies() -> list[Strategy]:
    """Every strategy the benchmark times, in table order."""
    rows = [
        Strategy(FLOOR, lambda c: forward_pass(c.net.module_, c.X_pool), uses_labelled=False),
        Strategy(
            ENTROPY,
            lambda c: modal_entropy_sampling(c.net, c.X_pool, n_instances=c.n_instances),
            lambda c: modal_entropy_sampling(_PrecomputedProbas(c), c.X_pool,
                                             n_instances=c.n_instances),
            uses_labelled=False,
        ),
        Strategy(
            "baselines.entropy_sampling",
            lambda c: entropy_sampling(c.net, c.X_pool, c.n_instances),
            lambda c: entropy_sampling(_PrecomputedProbas(c), c.X_pool, c.n_instances),
            uses_labelled=False,
        ),
        Strategy(
            "baselines.margin_sampling",
            lambda c: margin_sampling(c.net, c.X_pool, c.n_instances),
            lambda c: margin_sampling(_PrecomputedProbas(c), c.X_pool, c.n_instances),
            uses_labelled=False,
        ),
    ]
    rows += [
        Strategy(
            f"ibal_sampling({reading})",
            lambda c, r=reading: ibal_sampling(c.net, c.X_pool, c.n_instances, reading=r,
                                               **c.labelled()),
            _ibal_scoring(reading),
        )
        for reading in READINGS
    ]
    rows += [
        Strategy(
            "ibal_distance_sampling(features)",
            lambda c: ibal_distance_sampling(c.net, c.X_pool, c.n_instances, **c.labelled()),
            _ibal_distance_scoring(lambda c: None),
        ),
        Strategy(
            "ibal_distance_sampling(autoencoder, cached codes)",
            lambda c: ibal_distance_sampling(c.net, c.X_pool, c.n_instances,
                                             embedding=c.cached, **c.labelled()),
            _ibal_distance_scoring(lambda c: c.cached),
        ),
        Strategy(
            "ibal_distance_sampling(autoencoder, uncached)",
            lambda c: ibal_distance_sampling(c.net, c.X_pool, c.n_instances,
                                             embedding=c.autoencoder, **c.labelled()),
        ),
        Strategy(
            "entropy_distance_sampling(features)",
            lambda c: entropy_distance_sampling(c.net, c.X_pool, c.n_instances,
                                                **c.labelled()),
            _entropy_distance_scoring,
        ),
        Strategy(
            "coreset_sampling(features)",
            lambda c: coreset_sampling(c.net, c.X_pool, c.n_instances, **c.labelled()),
            lambda c: coreset_sampling(c.net, c.X_pool, c.n_instances,
                                       embedding=_PrecomputedFeatures(c), **c.labelled()),
        ),
        Strategy(
            "badge_sampling",
            lambda c: badge_sampling(c.net, c.X_pool, c.n_instances, random_state=0),
            uses_labelled=False,
        ),
    ]
    return rows
