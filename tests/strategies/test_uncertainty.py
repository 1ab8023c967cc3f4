"""Random, entropy and margin sampling: a seeded uniform draw, and the same batches as modAL's
uncertainty strategies from one batched pass."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import TinyMLP, make_net
from modAL.uncertainty import classifier_entropy, classifier_margin
from modAL.uncertainty import entropy_sampling as modal_entropy_sampling
from modAL.uncertainty import margin_sampling as modal_margin_sampling
from sklearn.linear_model import LogisticRegression
from torch import nn

from modal_ibal import (
    entropy_sampling,
    get_strategy,
    margin_sampling,
    random_sampling,
)


def test_random_sampling_is_a_seeded_uniform_sample(digits_split):
    _, _, X_pool = digits_split
    indices, draws = random_sampling(None, X_pool, 10, random_state=0)
    expected = np.random.RandomState(0).random_sample(len(X_pool))
    np.testing.assert_array_equal(indices, np.argsort(expected)[:10])
    np.testing.assert_array_equal(draws, expected[indices])
    assert not np.array_equal(indices, random_sampling(None, X_pool, 10, random_state=1)[0])


def _assert_same_selection(ours, theirs, all_scores, *, atol=1e-5):
    """Same batch as modAL up to float tolerance; swaps allowed only between near-ties."""
    (indices, scores), (modal_indices, modal_scores) = ours, theirs
    np.testing.assert_allclose(np.sort(scores), np.sort(modal_scores), rtol=1e-4, atol=atol)
    np.testing.assert_allclose(scores, all_scores[indices], rtol=1e-4, atol=atol)
    swapped = np.setxor1d(indices, modal_indices)
    threshold = scores[-1]
    assert np.all(np.abs(all_scores[swapped] - threshold) <= atol)


@pytest.mark.parametrize(
    ("ours", "modal", "measure"),
    [
        (entropy_sampling, modal_entropy_sampling, classifier_entropy),
        (margin_sampling, modal_margin_sampling, classifier_margin),
    ],
    ids=["entropy", "margin"],
)
def test_uncertainty_equals_modal_from_one_batched_pass(ours, modal, measure, digits_learner,
                                                        digits_split, monkeypatch):
    _, _, X_pool = digits_split
    expected = modal(digits_learner, X_pool, n_instances=12)
    all_scores = measure(digits_learner, X_pool)
    sizes = []
    predict_proba = digits_learner.estimator.predict_proba
    monkeypatch.setattr(digits_learner.estimator, "predict_proba",
                        lambda X: sizes.append(len(X)) or predict_proba(X))
    result = ours(digits_learner, X_pool, 12, batch_size=64)
    _assert_same_selection(result, expected, all_scores)
    assert max(sizes) <= 8  # skorch's per-sample path only checks the first samples


@pytest.mark.parametrize("name", ["entropy", "margin", "coreset", "badge"])
def test_float64_pools_are_cast_for_the_net(name, digits_learner, digits_split):
    _, _, X_pool = digits_split
    strategy = get_strategy(name).resolve()
    as_float32 = strategy(digits_learner, X_pool, 5, random_state=0)
    as_float64 = strategy(digits_learner, X_pool.astype(np.float64), 5, random_state=0)
    np.testing.assert_array_equal(as_float32[0], as_float64[0])


class _Tempered(nn.Module):
    """The final nn.Linear's output is rescaled: its logits are not the module's output."""

    def __init__(self):
        super().__init__()
        self.inner = TinyMLP()

    def forward(self, X):
        return 3.0 * self.inner(X)


@pytest.mark.parametrize("ours, modal, measure", [
    (entropy_sampling, modal_entropy_sampling, classifier_entropy),
    (margin_sampling, modal_margin_sampling, classifier_margin),
], ids=["entropy", "margin"])
@pytest.mark.parametrize("model", ["tempered", "logistic"])
def test_uncertainty_falls_back_to_predict_proba(ours, modal, measure, model, digits_split):
    X_labelled, y_labelled, X_pool = digits_split
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator = (make_net(_Tempered, max_epochs=3) if model == "tempered"
                     else LogisticRegression(max_iter=200)).fit(X_labelled, y_labelled)
    _assert_same_selection(ours(estimator, X_pool, 12), modal(estimator, X_pool, n_instances=12),
                           measure(estimator, X_pool))


@pytest.mark.parametrize("strategy", [entropy_sampling, margin_sampling])
def test_uncertainty_warns_when_tied_scores_fill_the_batch_in_pool_order(strategy):
    from modal_ibal.scoring._selection import TiedScoresWarning

    X = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    model = LogisticRegression().fit(X, [0, 1, 0, 1])
    pool = np.zeros((5, 2))  # five copies of one point: one score
    with pytest.warns(TiedScoresWarning, match="5 pool points tie"):
        indices, _ = strategy(model, pool, 2)
    np.testing.assert_array_equal(indices, [0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error", TiedScoresWarning)
        strategy(model, pool, 5)  # every tied point fits: nothing to warn about


@pytest.mark.parametrize("strategy", [entropy_sampling, margin_sampling])
def test_uncertainty_names_a_bad_batch_size(strategy):
    X = np.array([[0.0, 0.0], [1.0, 1.0]])
    model = LogisticRegression().fit(X, [0, 1])
    with pytest.raises(ValueError, match=r"^The 'batch_size' parameter must be a positive int"):
        strategy(model, X, 1, batch_size=0)
