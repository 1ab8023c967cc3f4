"""Order dependence shows on any CPU: a deterministic strategy picks the same points in a shuffled pool.

On distinct rows every deterministic strategy must pick the same rows in the same
order whatever the pool's row order; a result that depended on summation order
(which rows a BLAS block holds, which chunk a row falls in) would show here on
this CPU rather than only on another. Strategies that draw (random, BADGE's
k-means++, TypiClust's, ProbCover's and the default's k-means) and exact duplicates (whose
neighbour lists are filled by pool index) are outside this promise; duplicates
are checked for the row-wise scores in ``tests/pools/test_dask.py``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import make_net
from modAL.models import ActiveLearner

from modal_ibal.strategies._registry import STRATEGIES

DETERMINISTIC = [name for name in STRATEGIES
                 if name not in {"random", "badge", "typiclust", "probcover", "ibal-cluster",
                                 "ibal-cluster-features", "ibal-switch", "default"}]


@pytest.fixture(scope="module")
def learner_and_pool():
    rng = np.random.default_rng(0)
    X_labelled = rng.random((30, 16), dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        learner = ActiveLearner(make_net(n_classes=4, max_epochs=5, module__n_features=16,
                                         module__n_classes=4),
                                X_training=X_labelled, y_training=np.arange(30) % 4)
    return learner, rng.random((900, 16), dtype=np.float32)


@pytest.mark.parametrize("name", DETERMINISTIC)
def test_a_shuffled_pool_gives_the_same_picks(learner_and_pool, name):
    learner, X_pool = learner_and_pool
    strategy = STRATEGIES[name].resolve()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = strategy(learner, X_pool, 20, random_state=0)
        for seed in (1, 2):
            order = np.random.default_rng(seed).permutation(len(X_pool))
            indices, scores = strategy(learner, X_pool[order], 20, random_state=0)
            np.testing.assert_array_equal(order[indices], expected[0])
            np.testing.assert_allclose(scores, expected[1], rtol=1e-9, atol=1e-12)
