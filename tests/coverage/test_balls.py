"""ProbCover's greedy max coverage of balls: the pick rule, its ties and its random fallback."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from modal_ibal.coverage._balls import greedy_max_coverage


def _uniform_draws(n_pool: int, picked: list[int], n_instances: int, seed: int) -> list[int]:
    """Picks uniform among the unpicked pool points, drawn as documented from RandomState(seed)."""
    rng, picked = np.random.RandomState(seed), list(picked)
    for _ in range(n_instances):
        rest = np.setdiff1d(np.arange(n_pool), picked)
        picked.append(int(rest[rng.randint(len(rest))]))
    return picked


def test_balls_covering_only_their_centre_are_picked_in_index_order_with_gain_one():
    graph = sp.identity(7, format="csr")  # every ball covers its own point alone
    picks, gains = greedy_max_coverage(graph, 0, 5, np.random.RandomState(3))
    np.testing.assert_array_equal(picks, [0, 1, 2, 3, 4])  # every gain is 1: lowest index
    np.testing.assert_array_equal(gains, [1.0] * 5)
    assert picks.dtype == np.int64


def test_largest_uncovered_ball_first_then_uniform_picks_once_all_is_covered():
    # labelled point 0 covers pool points 0 and 1 (graph rows 1, 2); pool point 2 covers 2 and 3
    dense = np.eye(6)
    for i, j in [(0, 1), (0, 2), (3, 4), (3, 5), (4, 5)]:
        dense[i, j] = dense[j, i] = 1.0
    picks, gains = greedy_max_coverage(sp.csr_matrix(dense), 1, 4, np.random.RandomState(11))
    assert picks[0] == 2  # pool points 2, 3, 4 cover the same 3 points: the lowest index
    np.testing.assert_array_equal(gains, [3.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(picks, _uniform_draws(5, [2], 3, 11))


def test_picks_are_uniform_draws_when_the_labelled_balls_cover_everything():
    graph = sp.csr_matrix(np.ones((9, 9)))  # one labelled point whose ball holds all 8 pool points
    for seed in range(4):
        picks, gains = greedy_max_coverage(graph, 1, 6, np.random.RandomState(seed))
        np.testing.assert_array_equal(picks, _uniform_draws(8, [], 6, seed))
        np.testing.assert_array_equal(gains, np.zeros(6))
    assert list(greedy_max_coverage(graph, 1, 6, np.random.RandomState(0))[0]) != list(range(6))


def test_an_empty_batch_gives_empty_integer_picks():
    picks, gains = greedy_max_coverage(sp.identity(4, format="csr"), 1, 0, np.random.RandomState(0))
    assert picks.shape == (0,) and picks.dtype == np.int64
    assert gains.shape == (0,)
