"""ProbCover: the greedy max coverage of balls against a naive reference, and its purity radius."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from modal_ibal import (
    probcover_sampling,
)
from modal_ibal.strategies._probcover import purity_radius


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
    """Uniform among the unpicked pool points, drawn from ``random_state`` as documented."""
    Z = np.random.default_rng(0).normal(size=(20, 2))
    model = LogisticRegression().fit(Z[:2], [0, 1])

    def picks(seed):
        return probcover_sampling(model, Z[2:], 5, delta=100.0, X_labelled=Z[:2],
                                  y_labelled=[0, 1], random_state=seed)

    for seed in (0, 1, 2):
        rng, rest, expected = np.random.RandomState(seed), list(range(18)), []
        for _ in range(5):
            expected.append(rest.pop(rng.randint(len(rest))))
        indices, gains = picks(seed)
        np.testing.assert_array_equal(indices, expected)
        np.testing.assert_array_equal(gains, 0.0)
    assert len({tuple(picks(seed)[0]) for seed in range(6)}) > 1


def test_purity_radius_is_the_largest_pure_enough_radius(separated_blobs):
    X, blob, *_ = separated_blobs
    delta = purity_radius(X, 6, purity=0.9, random_state=0)

    def purity(radius):
        ball = np.linalg.norm(X[:, None] - X[None], axis=2) <= radius
        return np.mean([np.all(blob[row] == blob[i]) for i, row in enumerate(ball)])

    # delta lies one ulp below a distance scikit-learn's neighbour search computed; numpy's
    # norm here is another computation, which may round that distance an ulp or two
    # otherwise: the purity must hold just below delta and fail just above, 1e-12 apart
    assert purity(delta * (1 - 1e-12)) >= 0.9
    assert purity(delta * (1 + 1e-12)) < 0.9
    with pytest.raises(ValueError, match="'purity' parameter must be in"):
        purity_radius(X, 6, purity=1.5)


def test_probcover_default_radius_is_the_purity_radius_of_the_models_classes(digits_learner,
                                                                             digits_split):
    X_labelled, _, X_pool = digits_split
    indices, gains = probcover_sampling(digits_learner, X_pool, 5, random_state=0)
    assert gains[0] >= 1 and np.all(np.diff(gains) <= 0)
    Z = np.concatenate([X_labelled, X_pool]).reshape(len(X_labelled) + len(X_pool), -1)
    rng = np.random.RandomState(0)
    delta = purity_radius(Z, 10, purity=0.95, random_state=rng)  # 10 classes, the default purity
    expected = probcover_sampling(digits_learner, X_pool, 5, delta=delta, random_state=rng)
    np.testing.assert_array_equal(indices, expected[0])
    np.testing.assert_array_equal(gains, expected[1])
    other = probcover_sampling(digits_learner, X_pool, 5, delta=2 * delta, random_state=0)
    assert not np.array_equal(gains, other[1])  # the radius matters here


def test_probcover_refuses_a_zero_radius(digits_learner, digits_split):
    _, _, X_pool = digits_split
    with pytest.raises(ValueError, match="'delta' parameter must be > 0"):
        probcover_sampling(digits_learner, X_pool, 5, delta=0.0)


@pytest.fixture(scope="module")
def float32_blobs():
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(n_samples=300, n_features=5, centers=4, random_state=0)
    return X.astype(np.float32)


@pytest.mark.parametrize("delta", [None, 1.5])
@pytest.mark.parametrize("n_labelled", [0, 20])
@pytest.mark.parametrize("scale", [2.0**60, 2.0**-60, 1e18, 1e-18])
def test_probcover_picks_do_not_depend_on_the_scale_of_the_inputs(float32_blobs, scale,
                                                                  n_labelled, delta):
    """Before: the purity k-means overflowed float32 near 1e19, with RuntimeWarnings only."""
    X = float32_blobs
    labelled = dict(X_labelled=X[:n_labelled], y_labelled=np.arange(n_labelled) % 2)
    model = LogisticRegression()
    expected = probcover_sampling(model, X[n_labelled:], 10, random_state=0, delta=delta,
                                  **labelled)
    scaled = X * np.float32(scale)
    labelled["X_labelled"] = scaled[:n_labelled]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        indices, gains = probcover_sampling(model, scaled[n_labelled:], 10, random_state=0,
                                            delta=None if delta is None else delta * scale,
                                            **labelled)
    if np.log2(scale).is_integer():  # a power of two scales every value exactly
        np.testing.assert_array_equal(indices, expected[0])
        np.testing.assert_array_equal(gains, expected[1])  # counts of points
    else:  # rounded by the scaling: a radius at a pair's distance may flip, not the picks here
        assert set(indices.tolist()) == set(expected[0].tolist())


def test_purity_radius_scales_with_the_inputs(float32_blobs):
    X = float32_blobs
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        radius = purity_radius(X * np.float32(2.0**60), 4, random_state=0)
    np.testing.assert_allclose(radius, purity_radius(X, 4, random_state=0) * 2.0**60,
                               rtol=1e-12)


def test_probcover_default_radius_refuses_multi_output_models_and_labels():
    from sklearn.multioutput import MultiOutputClassifier

    Z = np.random.default_rng(0).normal(size=(40, 2))
    Y = (Z[:10] > 0).astype(int)  # [10, 2]
    model = MultiOutputClassifier(LogisticRegression()).fit(Z[:10], Y)
    with pytest.raises(TypeError, match=(
            r"single-output classifier .* Got MultiOutputClassifier, fitted on 2 outputs .* "
            r"pass delta=\.\.\. to cover the inputs")):  # before: len(classes_) = 2 outputs as 2 classes
        probcover_sampling(model, Z[10:], 3, X_labelled=Z[:10], y_labelled=Y)
    indices, _ = probcover_sampling(model, Z[10:], 3, delta=0.5, X_labelled=Z[:10],
                                    y_labelled=Y)
    assert len(np.unique(indices)) == 3
    with pytest.raises(ValueError, match=(  # an unfitted model: the classes are the labels'
            r"^The 'y_labelled' parameter must be a 1-D array of class labels, one per sample\. "
            r"Got shape \(10, 2\) instead")):  # before: numpy.unique of all the labels' values
        probcover_sampling(LogisticRegression(), Z[10:], 3, X_labelled=Z[:10], y_labelled=Y)
