"""Representer contracts: the bias column, and the pool read in bounded chunks, each row once.

A loss without a link (an autograd criterion) hands out its full (b, C, C)
gradient tensor: :func:`ibal_scores` asks it for at most
``max(1, POOL_CHUNK // C)`` rows at a time, so the tensor never grows past
``POOL_CHUNK * C`` entries (or one row's).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax

from modal_ibal.readers._losses import SoftmaxCrossEntropy
from modal_ibal.scoring import _representer as representer
from modal_ibal.scoring._representer import append_bias, class_feature_sums, fold_bias, ibal_scores


class _RecordingAutogradLoss:
    """Softmax cross-entropy seen as an autograd loss (no link); records each chunk's rows."""

    link = None

    def __init__(self):
        self.rows = []

    def probabilities(self, logits):
        return softmax(logits, axis=1)

    def gradients(self, logits):
        self.rows.append(logits.shape[0])
        return SoftmaxCrossEntropy().gradients(logits)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_bias_column_is_ones_in_the_features_dtype(dtype):
    F = np.arange(6, dtype=dtype).reshape(3, 2)
    folded = append_bias(F)
    assert folded.dtype == dtype  # a float32 pool is not doubled to float64
    np.testing.assert_array_equal(folded, [[0, 1, 1], [2, 3, 1], [4, 5, 1]])


def test_fold_bias_appends_the_column_only_for_a_layer_with_a_bias():
    F = np.arange(6.0).reshape(3, 2)
    assert fold_bias(F, False) is F
    np.testing.assert_array_equal(fold_bias(F, True), append_bias(F))


@pytest.mark.parametrize(("pool_chunk", "n_classes", "n_pool", "rows_per_chunk"), [
    (12, 4, 30, 3),  # POOL_CHUNK // C rows
    (12, 3, 8, 4),  # two chunks of 4 rows
    (4, 5, 7, 1),  # more classes than POOL_CHUNK: one row at a time
])
def test_a_loss_without_a_link_is_differentiated_in_bounded_chunks_each_row_once(
        monkeypatch, pool_chunk, n_classes, n_pool, rows_per_chunk):
    rng = np.random.default_rng(pool_chunk + n_classes)
    F_pool = rng.normal(size=(n_pool, 3))
    logits = rng.normal(scale=2.0, size=(n_pool, n_classes))
    sums = class_feature_sums(rng.normal(size=(9, 3)), np.arange(9) % n_classes, n_classes)
    monkeypatch.setattr(representer, "POOL_CHUNK", pool_chunk)
    loss = _RecordingAutogradLoss()
    scores = ibal_scores(F_pool, logits, sums, loss=loss, reading="target", scale=0.5)
    assert max(loss.rows) <= rows_per_chunk
    assert sum(loss.rows) == n_pool
    # the 'target' reading for softmax cross-entropy: kappa (g_yhat - p^T g)
    p = softmax(logits, axis=1)
    g = F_pool @ sums.T
    expected = 0.5 * (g[np.arange(n_pool), p.argmax(axis=1)] - (p * g).sum(axis=1))
    np.testing.assert_allclose(scores, expected, rtol=1e-10, atol=1e-12)
