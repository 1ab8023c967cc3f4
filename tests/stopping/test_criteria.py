"""The stopping criteria in a plain modAL loop, their rules, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from modAL.models import ActiveLearner
from modAL.uncertainty import uncertainty_sampling
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from modal_ibal import default_sampling
from modal_ibal.stopping import (
    CoverageSaturation,
    LabelBudget,
    OverallUncertainty,
    StabilizingPredictions,
    rule_fires,
)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16.0, y[:600]


def _loop(X, y, strategy, criteria, rounds=6, batch=20):
    """A modAL loop of ``rounds`` queries; every criterion updated after each teach."""
    rng = np.random.RandomState(0)
    initial = rng.choice(len(X), 20, replace=False)
    pool = np.setdiff1d(np.arange(len(X)), initial)
    learner = ActiveLearner(LogisticRegression(max_iter=300), query_strategy=strategy,
                            X_training=X[initial], y_training=y[initial])
    for _ in range(rounds):
        for criterion in criteria:
            criterion.update(learner, X[pool])
        query, _ = learner.query(X[pool], n_instances=batch)
        learner.teach(X[pool[query]], y[pool[query]])
        pool = np.delete(pool, query)
    return learner


@pytest.mark.parametrize("strategy", [default_sampling, uncertainty_sampling])
def test_every_criterion_records_one_signal_per_update_with_any_strategy(digits, strategy):
    X, y = digits
    criteria = [StabilizingPredictions(X[:200]), OverallUncertainty(X[:200]), LabelBudget(60),
                CoverageSaturation(20)]
    _loop(X, y, strategy, criteria, rounds=4)
    for criterion in criteria:
        assert [signal.n_labelled for signal in criterion.history_] == [20, 40, 60, 80]
    budget = criteria[2]
    assert [signal.stop for signal in budget.history_] == [False, False, True, True]
    assert np.isnan(criteria[0].history_[0].value)  # nothing to compare with yet
    assert all(0.0 <= signal.value <= 1.0 for signal in criteria[1].history_)


def test_stabilizing_predictions_stops_on_the_window_mean(digits):
    X, y = digits
    criterion = StabilizingPredictions(X[:200], threshold=0.9, window=2)
    _loop(X, y, default_sampling, [criterion], rounds=6)
    values = [signal.value for signal in criterion.history_]
    for index, signal in enumerate(criterion.history_):
        window = values[max(0, index - 1): index + 1]
        expected = len(window) == 2 and np.all(np.isfinite(window)) and np.mean(window) >= 0.9
        assert signal.stop == expected
    assert criterion.stop_ == criterion.history_[-1].stop


def test_class_balanced_agreement_is_never_above_what_kappa_allows_on_equal_models(digits):
    X, y = digits
    plain = StabilizingPredictions(X[:200], agreement="kappa")
    balanced = StabilizingPredictions(X[:200])
    _loop(X, y, default_sampling, [plain, balanced], rounds=3)
    for a, b in zip(plain.history_[1:], balanced.history_[1:], strict=True):
        assert 0.0 < a.value <= 1.0 and 0.0 < b.value <= 1.0


def test_overall_uncertainty_is_the_mean_normalised_entropy(digits):
    X, y = digits
    model = LogisticRegression(max_iter=300).fit(X[:100], y[:100])
    criterion = OverallUncertainty(X[200:300], threshold=0.5)
    criterion.update(model, X_labelled=X[:100], y_labelled=y[:100])
    p = model.predict_proba(X[200:300])
    expected = np.mean(-np.sum(p * np.log(np.clip(p, 1e-300, None)), axis=1)) / np.log(10)
    assert criterion.history_[-1].value == pytest.approx(expected, rel=1e-9)
    assert criterion.history_[-1].stop == (expected <= 0.5)


def test_coverage_gain_falls_and_is_in_points_per_label(digits):
    X, y = digits
    criterion = CoverageSaturation(20, threshold=1.2)
    _loop(X, y, default_sampling, [criterion], rounds=6)
    values = np.array([signal.value for signal in criterion.history_])
    assert values[0] > 1.5  # a first label covers more than its own point
    assert values[-1] < values[0]
    assert [signal.stop for signal in criterion.history_] == list(values <= 1.2)


def test_a_cold_start_gives_no_prediction_signal_but_a_coverage_one(digits):
    X, _ = digits
    learner = ActiveLearner(LogisticRegression(), query_strategy=default_sampling)
    stabilizing, coverage = StabilizingPredictions(X[:50]), CoverageSaturation(10)
    assert stabilizing.update(learner) is False
    assert np.isnan(stabilizing.history_[-1].value)
    coverage.update(learner, X)
    assert coverage.history_[-1].n_labelled == 0 and coverage.history_[-1].value > 1


def test_reset_forgets_the_history_and_the_previous_predictions(digits):
    X, y = digits
    criterion = StabilizingPredictions(X[:100])
    _loop(X, y, default_sampling, [criterion], rounds=2)
    assert criterion.reset() is criterion
    assert criterion.history_ == [] and criterion.predictions_ is None and not criterion.stop_


def test_the_model_and_the_callers_arrays_are_left_as_they_were(digits):
    X, y = digits
    model = LogisticRegression(max_iter=300).fit(X[:100], y[:100])
    coefficients, X_copy = model.coef_.copy(), X.copy()
    state = np.random.get_state()[1].copy()  # noqa: NPY002 (the global state under test)
    for criterion in (StabilizingPredictions(X[:100]), OverallUncertainty(X[:100]),
                      CoverageSaturation(5)):
        criterion.update(model, X[100:], X_labelled=X[:100], y_labelled=y[:100])
    np.testing.assert_array_equal(model.coef_, coefficients)
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002


@pytest.mark.parametrize("make, error, match", [
    (lambda X: StabilizingPredictions(X, threshold=1.5), ValueError, "threshold"),
    (lambda X: StabilizingPredictions(X, threshold="high"), TypeError, "threshold"),
    (lambda X: StabilizingPredictions(X, window=0), ValueError, "window"),
    (lambda X: StabilizingPredictions(X, agreement="f1"), ValueError, "agreement"),
    (lambda X: StabilizingPredictions(X[:0]), ValueError, "X_stop"),
    (lambda X: OverallUncertainty(X, threshold=0), ValueError, "threshold"),
    (lambda X: LabelBudget(0), ValueError, "budget"),
    (lambda X: CoverageSaturation(0), ValueError, "n_instances"),
    (lambda X: CoverageSaturation(5, threshold=-1.0), ValueError, "threshold"),
])
def test_bad_parameters_are_refused_by_name(digits, make, error, match):
    with pytest.raises(error, match=match):
        make(digits[0])


def test_coverage_saturation_needs_the_pool(digits):
    X, y = digits
    model = LogisticRegression(max_iter=300).fit(X[:100], y[:100])
    with pytest.raises(ValueError, match="X_pool"):
        CoverageSaturation(5).update(model, X_labelled=X[:100], y_labelled=y[:100])


def test_a_model_without_probabilities_is_refused_by_overall_uncertainty(digits):
    from sklearn.svm import LinearSVC

    X, y = digits
    model = LinearSVC().fit(X[:100], y[:100])
    with pytest.raises(TypeError, match="predict_proba"):
        OverallUncertainty(X[:50]).update(model, X_labelled=X[:100], y_labelled=y[:100])


@pytest.mark.parametrize("values, threshold, window, at_most, expected", [
    ([0.2, 0.995, 0.995], 0.99, 2, False, True),
    ([0.995, 0.2, 0.995], 0.99, 2, False, False),
    ([np.nan, 0.995], 0.99, 2, False, False),  # not measured yet
    ([0.995], 0.99, 2, False, False),  # fewer values than the window
    ([0.3, 0.01], 0.05, 1, True, True),
    ([0.01, 0.3], 0.05, 1, True, False),
])
def test_the_rule_is_the_mean_of_the_last_window_values(values, threshold, window, at_most,
                                                        expected):
    assert rule_fires(values, threshold, window=window, at_most=at_most) is expected
