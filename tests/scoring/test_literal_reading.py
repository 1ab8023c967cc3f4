"""Eq. 2 read literally: its value for given probabilities, scale and the loss's own probabilities."""

from __future__ import annotations

import numpy as np
from scipy.special import softmax

from modal_ibal.readers._losses import SoftmaxCrossEntropy
from modal_ibal.scoring._representer import class_feature_sums, literal_ibal_scores


def _problem():
    rng = np.random.default_rng(4)
    F_pool, F_labelled = rng.normal(size=(9, 3)), rng.normal(size=(7, 3))
    logits = rng.normal(scale=2.0, size=(9, 4))
    sums = class_feature_sums(F_labelled, np.arange(7) % 4, 4)
    probas = rng.dirichlet(np.ones(4), size=9)  # not the softmax of the logits
    return F_pool, logits, sums, probas


def _literal(F_pool, logits, sums, probas, scale):
    """-scale sum_y p_y sum_c (s_c - [y = c]) g_c, with s the softmax of the logits."""
    g = F_pool @ sums.T
    s = softmax(logits, axis=1)
    return -scale * (probas * ((s * g).sum(axis=1, keepdims=True) - g)).sum(axis=1)


def test_literal_scores_weight_each_target_class_by_the_given_probabilities():
    F_pool, logits, sums, probas = _problem()
    expected = _literal(F_pool, logits, sums, probas, 0.3)
    assert np.abs(expected).max() > 1e-2  # other probabilities than the softmax: not zero
    got = literal_ibal_scores(F_pool, logits, sums, loss=SoftmaxCrossEntropy(), scale=0.3,
                              probas=probas)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_literal_scores_default_to_scale_one():
    F_pool, logits, sums, probas = _problem()
    got = literal_ibal_scores(F_pool, logits, sums, loss=SoftmaxCrossEntropy(), probas=probas)
    np.testing.assert_allclose(got, _literal(F_pool, logits, sums, probas, 1.0), rtol=1e-10,
                               atol=1e-12)
