"""Coverage-aware IBAL. The modAL contract, determinism under random_state and the
bad-input errors are checked by the shared template in test_contract.py ('ibal-cluster')."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import labelled_and_pool, net_learner

from modal_ibal import ibal_cluster_sampling, typiclust_sampling
from modal_ibal.coverage import _clusters as clusters
from modal_ibal.coverage._clusters import typicality
from modal_ibal.readers import labelled_view
from modal_ibal.scoring._importance import representer_importance
from modal_ibal.strategies._cluster_ibal import disagreement_ranks


@pytest.fixture(scope="module")
def learner(digits):
    X_labelled, y_labelled, X_pool = labelled_and_pool(digits, 30, 300, seed=3)
    return net_learner(X_labelled, y_labelled), X_pool


@pytest.mark.parametrize("representation", ["inputs", "features", "callable"])
@pytest.mark.parametrize("n_instances", [1, 7])
def test_beta_zero_is_typiclust(learner, representation, n_instances):
    learner, X_pool = learner
    representation = (lambda X: X[:, ::2]) if representation == "callable" else representation
    ours = ibal_cluster_sampling(learner, X_pool, n_instances, beta=0.0, random_state=5,
                                 representation=representation)
    typiclust = typiclust_sampling(learner, X_pool, n_instances, random_state=5,
                                   representation=representation)
    np.testing.assert_array_equal(ours[0], typiclust[0])
    np.testing.assert_array_equal(ours[1], typiclust[1])


def _naive_pick(members, X, disagreement, beta):
    """argmax tau * exp(-beta r) over a cluster's members, with r from pairwise comparisons."""
    tau = typicality(X[members])
    s = disagreement[members]
    ranks = np.array([(s > s_i).sum() for s_i in s]) / max(len(s) - 1, 1)
    values = tau * np.exp(-beta * ranks)
    return members[np.argmax(values)], values.max()


@pytest.mark.parametrize("beta", [0.0, 1.0, 3.0, 1e4])
def test_one_pick_per_uncovered_cluster_by_the_weighted_typicality(separated_blobs, beta):
    X, blob, labelled, pool, model = separated_blobs
    indices, scores = ibal_cluster_sampling(model, X[pool], 4, beta=beta, random_state=0,
                                            X_labelled=X[labelled], y_labelled=[0, 1])
    np.testing.assert_array_equal(blob[pool[indices]], [0, 2, 3, 5])  # largest uncovered first
    view = labelled_view(model, X[pool], X_labelled=X[labelled], y_labelled=[0, 1])
    disagreement = -representer_importance(view, reading="target")
    for index, score in zip(indices, scores, strict=True):
        members = np.flatnonzero(blob[pool] == blob[pool[index]])
        expected, value = _naive_pick(members, X[pool], disagreement, beta)
        assert index == expected
        np.testing.assert_allclose(score, value, rtol=1e-12)
        if beta == 1e4:  # the preference dominates: the most disagreeing member
            assert disagreement[index] == disagreement[members].max()


@pytest.mark.parametrize("beta", [0.0, 3.0])
def test_beyond_kmeans_one_pick_per_free_cluster_by_the_weighted_typicality(learner, beta):
    learner, X_pool = learner  # 30 labelled, 300 in the pool: K = 30 + 25 > 50 clusters
    indices, scores = ibal_cluster_sampling(learner, X_pool, 25, beta=beta, random_state=4)
    if beta == 0.0:
        np.testing.assert_array_equal(indices, typiclust_sampling(learner, X_pool, 25,
                                                                  random_state=4)[0])
    cells = clusters.uncovered_clusters(learner.X_training, X_pool, 25, np.random.RandomState(4),
                                        20_000)
    np.testing.assert_array_equal(np.sort(cells[indices]), np.arange(25))
    view = labelled_view(learner, X_pool)
    disagreement = -representer_importance(view, reading="target")
    for index, score in zip(indices, scores, strict=True):
        expected, value = _naive_pick(np.flatnonzero(cells == cells[index]), X_pool,
                                      disagreement, beta)
        assert index == expected
        np.testing.assert_allclose(score, value, rtol=1e-12)


def test_ranks_share_ties_and_scale_to_unit_interval():
    np.testing.assert_allclose(disagreement_ranks([3.0, 1.0, 3.0, 2.0]), [0, 1, 0, 2 / 3])
    np.testing.assert_array_equal(disagreement_ranks([5.0]), [0.0])
    np.testing.assert_array_equal(disagreement_ranks([2.0, 2.0, 2.0]), [0.0, 0.0, 0.0])
    # copies scored in another summation order differ in their last bits: still a tie
    np.testing.assert_array_equal(disagreement_ranks([1.0, 1.0 + 4e-16, 0.5]), [0.0, 0.0, 1.0])


def test_exact_duplicates_tie_and_go_to_the_lower_index(separated_blobs):
    X, _, labelled, pool, model = separated_blobs
    doubled = np.concatenate([X[pool], X[pool]])  # equal scores, ranks and typicality in pairs
    for beta in [0.0, 1.0]:
        indices, _ = ibal_cluster_sampling(model, doubled, 4, beta=beta, random_state=0,
                                           X_labelled=X[labelled], y_labelled=[0, 1])
        assert np.all(indices < len(pool))


def test_bad_parameters_raise_clear_errors(learner):
    learner, X_pool = learner
    with pytest.raises(ValueError, match="'beta' parameter must be finite and >= 0"):
        ibal_cluster_sampling(learner, X_pool, 2, beta=-1.0)
    with pytest.raises(ValueError, match="'reading' parameter must be one of"):
        ibal_cluster_sampling(learner, X_pool, 2, reading="closest")
    with pytest.raises(ValueError, match="'n_neighbors' parameter must be a positive int"):
        ibal_cluster_sampling(learner, X_pool, 2, n_neighbors=0)
    with pytest.raises(ValueError, match="'max_cluster_samples' parameter must be >= 2"):
        ibal_cluster_sampling(learner, X_pool, 2, max_cluster_samples=1)


def test_disagreement_ranks_of_two_members_are_zero_and_one():
    np.testing.assert_array_equal(disagreement_ranks([1.0, 2.0]), [1.0, 0.0])
    np.testing.assert_array_equal(disagreement_ranks([2.0, 2.0]), [0.0, 0.0])
    np.testing.assert_allclose(disagreement_ranks(np.array([3, 1, 2])), [0.0, 1.0, 0.5])
