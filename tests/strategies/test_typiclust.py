"""TypiClust: the most typical point of each uncovered cluster, in every representation and
beyond scikit-learn's k-means."""

from __future__ import annotations

import numpy as np
import pytest

from modal_ibal import (
    typiclust_sampling,
)
from modal_ibal.coverage import clusters
from modal_ibal.coverage.clusters import typicality


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
