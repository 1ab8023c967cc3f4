"""ProbCover: the greedy max coverage of balls against a naive reference, and its purity radius."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from modal_ibal import (
    probcover_sampling,
)
from modal_ibal.strategies.probcover import purity_radius


def _naive_max_coverage(Z, n_labelled, delta, n_instances):
    distances = np.linalg.norm(Z[:, None] - Z[None], axis=2)
    ball = distances <= delta
    covered = ball[:n_labelled].any(axis=0)
    picks, gains = [], []
    for _ in range(n_instances):
        best, best_gain = -1, -1
        for i in range(n_labelled, len(Z)):
            gain = int((ball[i] & ~covered).sum())
            if i - n_labelled not in picks and gain > best_gain:
                best, best_gain = i, gain
        picks.append(best - n_labelled)
        gains.append(best_gain)
        covered |= ball[best]
    return np.array(picks), np.array(gains, dtype=float), covered


def test_probcover_equals_naive_greedy_max_coverage():
    rng = np.random.default_rng(2)
    Z = rng.normal(size=(60, 2))
    model = LogisticRegression().fit(Z[:4], [0, 1, 0, 1])
    indices, gains = probcover_sampling(model, Z[4:], 6, delta=0.6, X_labelled=Z[:4],
                                        y_labelled=[0, 1, 0, 1])
    picks, naive_gains, covered = _naive_max_coverage(Z, 4, 0.6, 6)
    np.testing.assert_array_equal(indices, picks)
    np.testing.assert_array_equal(gains, naive_gains)
    assert gains.sum() == covered.sum() - _naive_max_coverage(Z, 4, 0.6, 0)[2].sum()


def test_probcover_picks_at_random_once_everything_is_covered():
    Z = np.random.default_rng(0).normal(size=(20, 2))
    model = LogisticRegression().fit(Z[:2], [0, 1])
    indices, gains = probcover_sampling(model, Z[2:], 5, delta=100.0, X_labelled=Z[:2],
                                        y_labelled=[0, 1], random_state=0)
    np.testing.assert_array_equal(gains, 0.0)
    assert len(np.unique(indices)) == 5


def test_purity_radius_is_the_largest_pure_enough_radius(separated_blobs):
    X, blob, *_ = separated_blobs
    delta = purity_radius(X, 6, purity=0.9, random_state=0)

    def purity(radius):
        ball = np.linalg.norm(X[:, None] - X[None], axis=2) <= radius
        return np.mean([np.all(blob[row] == blob[i]) for i, row in enumerate(ball)])

    assert purity(delta) >= 0.9
    assert purity(np.nextafter(delta, np.inf)) < 0.9
    with pytest.raises(ValueError, match="'purity' parameter must be in"):
        purity_radius(X, 6, purity=1.5)


def test_probcover_default_radius_and_bad_delta(digits_learner, digits_split):
    _, _, X_pool = digits_split
    _, gains = probcover_sampling(digits_learner, X_pool, 5, random_state=0)
    assert gains[0] >= 1 and np.all(np.diff(gains) <= 0)
    with pytest.raises(ValueError, match="'delta' parameter must be > 0"):
        probcover_sampling(digits_learner, X_pool, 5, delta=0.0)
