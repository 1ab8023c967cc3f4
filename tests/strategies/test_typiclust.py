"""TypiClust: the most typical point of each uncovered cluster, in every representation and
beyond scikit-learn's k-means."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from modal_ibal import (
    typiclust_sampling,
)
from modal_ibal.coverage import _clusters as clusters
from modal_ibal.coverage._clusters import typicality


def test_typiclust_picks_the_most_typical_point_of_each_uncovered_cluster(separated_blobs):
    X, blob, labelled, pool, model = separated_blobs
    indices, scores = typiclust_sampling(model, X[pool], 4, random_state=0, X_labelled=X[labelled],
                                         y_labelled=[0, 1])
    np.testing.assert_array_equal(blob[pool[indices]], [0, 2, 3, 5])  # largest uncovered first
    for index, score in zip(indices, scores, strict=True):
        members = pool[blob[pool] == blob[pool[index]]]
        tau = typicality(X[members])
        assert pool[index] == members[np.argmax(tau)]
        np.testing.assert_allclose(score, tau.max())


def test_typiclust_representations(digits_learner, digits_split):
    _, _, X_pool = digits_split
    on_inputs = typiclust_sampling(digits_learner, X_pool, 4, random_state=0)
    flat = typiclust_sampling(digits_learner, X_pool, 4, random_state=0, representation=lambda X: X)
    np.testing.assert_array_equal(on_inputs[0], flat[0])
    features = typiclust_sampling(digits_learner, X_pool, 4, random_state=0, representation="features")
    assert len(np.unique(features[0])) == 4
    with pytest.raises(ValueError, match="'representation' parameter must be 'inputs'"):
        typiclust_sampling(digits_learner, X_pool, 4, representation="pixels")


def test_large_pools_cluster_a_sample(digits_learner, digits_split):
    _, _, X_pool = digits_split
    indices, _ = typiclust_sampling(digits_learner, X_pool, 60, random_state=0, max_cluster_samples=150)
    assert len(np.unique(indices)) == 60  # 90 clusters: free centers from 150 sampled pool points


def test_typiclust_beyond_kmeans_picks_the_most_typical_point_of_each_free_cluster(
        digits_learner, digits_split):
    X_labelled, _, X_pool = digits_split
    indices, scores = typiclust_sampling(digits_learner, X_pool, 25, random_state=2)  # K = 55
    cells = clusters.uncovered_clusters(X_labelled, X_pool, 25, np.random.RandomState(2), 20_000)
    sizes = np.bincount(cells[cells >= 0], minlength=25)
    np.testing.assert_array_equal(np.sort(cells[indices]), np.arange(25))  # one per free cluster
    assert np.all(np.diff(sizes[cells[indices]]) <= 0)  # largest first
    for index, score in zip(indices, scores, strict=True):
        members = np.flatnonzero(cells == cells[index])
        tau = typicality(X_pool[members])
        assert index == members[np.argmax(tau)]
        np.testing.assert_allclose(score, tau.max())


@pytest.fixture(scope="module")
def float32_blobs():
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(n_samples=300, n_features=5, centers=4, random_state=0)
    return X.astype(np.float32)


@pytest.mark.parametrize("n_labelled", [0, 20, 60])  # 60 + 10 clusters: beyond KMeans
@pytest.mark.parametrize("scale", [2.0**60, 2.0**-60, 1e18, 1e-18])
def test_typiclust_picks_do_not_depend_on_the_scale_of_the_inputs(float32_blobs, scale,
                                                                   n_labelled):
    """Before: k-means overflowed float32 near 1e19 (RuntimeWarnings) and picked other points;
    near 1e-19 every typicality was floored to the same value."""
    from sklearn.linear_model import LogisticRegression

    X = float32_blobs
    labelled = dict(X_labelled=X[:n_labelled], y_labelled=np.arange(n_labelled) % 2)
    model = LogisticRegression()
    expected = typiclust_sampling(model, X[n_labelled:], 10, random_state=0, **labelled)
    scaled = X * np.float32(scale)
    labelled["X_labelled"] = scaled[:n_labelled]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        indices, scores = typiclust_sampling(model, scaled[n_labelled:], 10, random_state=0,
                                             **labelled)
    if np.log2(scale).is_integer():  # a power of two scales every value exactly
        np.testing.assert_array_equal(indices, expected[0])
        np.testing.assert_allclose(scores * scale, expected[1], rtol=1e-6)
    else:  # rounded by the scaling: the same picks, but rounding may reorder near-ties
        assert set(indices.tolist()) == set(expected[0].tolist())
        np.testing.assert_allclose(np.sort(scores * scale), np.sort(expected[1]), rtol=1e-4)
