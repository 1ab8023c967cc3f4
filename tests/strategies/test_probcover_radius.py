"""ProbCover's purity radius on small sets where the k-means pseudo-classes are plain, its
sample of at most ``max_samples`` points, its seeding, and the number of pseudo-classes the
default radius takes from the model or the labels."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.linear_model import LinearRegression, LogisticRegression

from modal_ibal.strategies._probcover import probcover_sampling, purity_radius

# two groups on a line, 10 apart at their closest points; the largest distance from a point
# to the other group is 15 (x = 15), the next largest 14 (x = -4)
_TWO_GROUPS = np.array([0.0, -1.0, -2.0, -3.0, -4.0, 10.0, 11.0, 12.0, 13.0, 15.0])[:, None]


@pytest.mark.parametrize(("purity", "error"), [
    (True, TypeError), (0, ValueError), (0.0, ValueError), (-0.5, ValueError), (1.5, ValueError),
    ("0.5", TypeError), (None, TypeError)])
def test_purity_must_be_a_real_number_in_the_half_open_unit_interval(purity, error):
    with pytest.raises(error, match=r"'purity' parameter must be (a real number )?in \(0, 1\]"):
        purity_radius(_TWO_GROUPS, 2, purity=purity, random_state=0)


def test_full_purity_gives_a_radius_just_below_the_closest_pair_across_pseudo_classes():
    radius = purity_radius(_TWO_GROUPS, 2, purity=1.0, random_state=0)
    assert radius == np.nextafter(10.0, 0.0)
    assert purity_radius(_TWO_GROUPS, 1, purity=1.0, random_state=0) == radius  # at least 2


def test_a_tiny_purity_gives_a_radius_just_below_the_largest_distance_to_another_class():
    assert purity_radius(_TWO_GROUPS, 2, purity=1e-12, random_state=0) == np.nextafter(15.0, 0.0)
    # 1 - 0.75 of 10 points may be impure: the third smallest distance, 11
    assert purity_radius(_TWO_GROUPS, 2, purity=0.75, random_state=0) == np.nextafter(11.0, 0.0)


def test_a_pseudo_class_of_one_point_has_its_distance_to_the_rest():
    Z = np.array([0.0, 1.0, 2.0, 3.0, 100.0])[:, None]
    assert purity_radius(Z, 2, purity=1.0, random_state=0) == np.nextafter(97.0, 0.0)


def test_a_single_pseudo_class_makes_every_ball_pure():
    """Identical points: one pseudo-class; the radius is twice the largest distance to the
    mean plus one, here 1."""
    Z = np.tile([3.0, -1.0], (6, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # k-means finds fewer distinct clusters than asked
        radius = purity_radius(Z, 2, purity=0.9, random_state=0)
    assert radius == np.nextafter(1.0, 0.0)


def _reference_radius(Z, n_clusters, purity, seed, max_samples):
    """The documented estimate: a uniform sample of at most ``max_samples`` points, seeded
    k-means++ pseudo-classes (one initialisation), each point's distance to another class."""
    rng = np.random.RandomState(seed)
    if len(Z) > max_samples:
        Z = Z[rng.choice(len(Z), size=max_samples, replace=False)]
    labels = KMeans(n_clusters=n_clusters, n_init=1, random_state=rng).fit(Z).labels_
    distances = np.linalg.norm(Z[:, None] - Z[None], axis=2)
    rho = np.where(labels[:, None] != labels[None], distances, np.inf).min(axis=1)
    n_impure = int(np.floor((1.0 - purity) * len(Z) + 1e-9))
    return np.sort(rho)[n_impure]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_purity_is_estimated_on_a_seeded_sample_of_max_samples_points(seed):
    line = np.concatenate([-np.arange(20.0), 10.0 + np.arange(20.0)])[:, None]
    sample = np.random.RandomState(seed).choice(40, size=20, replace=False)
    low, high = line[sample[sample < 20], 0], line[sample[sample >= 20], 0]
    expected = high.min() - low.max()  # the closest pair of the two groups in the sample
    assert purity_radius(line, 2, purity=1.0, random_state=seed, max_samples=20) == \
        np.nextafter(expected, 0.0)
    assert purity_radius(line, 2, purity=1.0, random_state=seed, max_samples=40) == \
        np.nextafter(10.0, 0.0)


@pytest.fixture(scope="module")
def scattered():
    """Points with no clear clusters: k-means' pseudo-classes depend on its seed."""
    return np.random.default_rng(5).uniform(size=(30, 2))


@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("max_samples", [20, 30, 100])
def test_purity_radius_follows_its_seed(scattered, seed, max_samples):
    radius = purity_radius(scattered, 3, purity=0.8, random_state=seed, max_samples=max_samples)
    expected = _reference_radius(scattered, 3, 0.8, seed, max_samples)
    np.testing.assert_allclose(radius, expected, rtol=1e-12)


@pytest.mark.parametrize("shift", [40, -40])
def test_a_rescaled_set_keeps_the_seed_the_purity_and_the_sample_size(scattered, shift):
    radius = purity_radius(np.ldexp(scattered, shift), 3, purity=0.5, random_state=3,
                           max_samples=20)
    expected = _reference_radius(scattered, 3, 0.5, 3, 20)
    np.testing.assert_allclose(radius, np.ldexp(expected, shift), rtol=1e-12)


@pytest.fixture(scope="module")
def three_blobs():
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=90, centers=[[0, 0], [3, 0], [0, 3]], cluster_std=0.8,
                      random_state=1)
    return X, y


def _expected_picks(model, X_pool, n_pseudo_classes, **labelled):
    Z = np.concatenate([labelled["X_labelled"], X_pool])
    rng = np.random.RandomState(0)
    delta = purity_radius(Z, n_pseudo_classes, random_state=rng)
    return probcover_sampling(model, X_pool, 4, delta=delta, random_state=rng, **labelled)


def test_the_default_radius_takes_the_models_classes_before_the_labels(three_blobs):
    X, y = three_blobs
    model = LogisticRegression().fit(X, y)  # three classes
    labelled = dict(X_labelled=X[:10], y_labelled=np.arange(10) % 2)  # two labels
    indices, gains = probcover_sampling(model, X[10:], 4, random_state=0, **labelled)
    expected = _expected_picks(model, X[10:], 3, **labelled)
    np.testing.assert_array_equal(indices, expected[0])
    np.testing.assert_array_equal(gains, expected[1])
    two = _expected_picks(model, X[10:], 2, **labelled)
    assert not np.array_equal(gains, two[1])  # the number of pseudo-classes matters here


def test_a_fitted_model_without_classes_takes_the_labels_number(three_blobs):
    X, y = three_blobs
    model = LinearRegression().fit(X, y)  # fitted, no classes_
    labelled = dict(X_labelled=X[:10], y_labelled=np.arange(10) % 2)
    indices, gains = probcover_sampling(model, X[10:], 4, random_state=0, **labelled)
    expected = _expected_picks(model, X[10:], 2, **labelled)
    np.testing.assert_array_equal(indices, expected[0])
    np.testing.assert_array_equal(gains, expected[1])
