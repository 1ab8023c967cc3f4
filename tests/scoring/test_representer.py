"""The math of Eq. 1 and Eq. 2: vectorised readings against naive double loops."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from modal_ibal.readers._losses import AutogradLoss, OneVsRestLogistic, SoftmaxCrossEntropy
from modal_ibal.scoring import _representer as representer
from modal_ibal.scoring._refit import refit_last_layer
from modal_ibal.scoring._representer import (
    CLOSED_FORM_READINGS,
    append_bias,
    class_feature_sums,
    ibal_scores,
    kappa,
    literal_ibal_scores,
    representer_logits,
    representer_weights,
)

N_POOL, N_LABELLED, N_FEATURES, N_CLASSES = 23, 11, 5, 4


@pytest.fixture
def problem():
    rng = np.random.default_rng(1)
    F_pool = rng.normal(size=(N_POOL, N_FEATURES))
    F_labelled = rng.normal(size=(N_LABELLED, N_FEATURES))
    logits = rng.normal(scale=2.0, size=(N_POOL, N_CLASSES))
    y = rng.integers(0, N_CLASSES, size=N_LABELLED)
    y[:N_CLASSES] = np.arange(N_CLASSES)
    return F_pool, F_labelled, logits, y


def naive_readings(F_pool, F_labelled, logits, y, loss, scale):
    """Eq. 2 by the definition: k(x_t, x_i, alpha_i|y) = alpha_i|y f_i^T f_t, one pair at a time."""
    A = loss.gradients(logits)  # [N, C, C]: A[i, y, c] = dL(x_i, y)/dphi_c
    p = loss.probabilities(logits)
    out = {name: np.zeros(len(F_pool)) for name in (*CLOSED_FORM_READINGS, "literal")}
    for i in range(len(F_pool)):
        yhat = int(np.argmax(p[i]))
        for t in range(len(F_labelled)):
            dot = F_pool[i] @ F_labelled[t]
            k = {label: -scale * A[i, label] * dot for label in range(N_CLASSES)}  # C-vectors
            out["pseudo"][i] += sum(p[i, c] * k[yhat][c] for c in range(N_CLASSES))
            out["class"][i] += sum(p[i, c] * k[c][c] for c in range(N_CLASSES))
            out["target"][i] += k[yhat][y[t]]
            out["agreement"][i] += p[i, y[t]] * k[y[t]][y[t]]
            out["literal"][i] += sum(p[i, c] * k[c][y[t]] for c in range(N_CLASSES))
        for label in range(N_CLASSES):
            towards_targets = sum(
                -scale * A[i, label, y[t]] * (F_pool[i] @ F_labelled[t])
                for t in range(len(F_labelled))
            )
            out["nonlinear"][i] += p[i, label] * max(0.0, -towards_targets)
    return out


LOSSES = {
    "softmax": SoftmaxCrossEntropy(),
    "ovr": OneVsRestLogistic(),
    "autograd-ce": AutogradLoss(torch.nn.CrossEntropyLoss()),
    "autograd-margin": AutogradLoss(torch.nn.MultiMarginLoss()),
}


@pytest.mark.parametrize("loss_name", LOSSES)
@pytest.mark.parametrize("reading", [*CLOSED_FORM_READINGS, "literal"])
def test_vectorised_readings_equal_the_naive_double_loop(problem, loss_name, reading):
    F_pool, F_labelled, logits, y = problem
    loss = LOSSES[loss_name]
    scale = kappa(0.01, N_LABELLED)
    sums = class_feature_sums(F_labelled, y, N_CLASSES)
    fast = ibal_scores(F_pool, logits, sums, loss=loss, reading=reading, scale=scale)
    slow = naive_readings(F_pool, F_labelled, logits, y, loss, scale)[reading]
    np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-9)


def test_closed_forms_of_method_table(problem):
    """The softmax cross-entropy column of METHOD.md section 3, written out directly."""
    F_pool, F_labelled, logits, y = problem
    loss = SoftmaxCrossEntropy()
    sums = class_feature_sums(F_labelled, y, N_CLASSES)
    p = loss.probabilities(logits)
    g = F_pool @ sums.T
    fS = F_pool @ F_labelled.sum(axis=0)
    yhat = p.argmax(axis=1)
    rows = np.arange(N_POOL)
    squared = (p**2).sum(axis=1)
    expected = {
        "class": (1 - squared) * fS,
        "pseudo": (p[rows, yhat] - squared) * fS,
        "target": g[rows, yhat] - (p * g).sum(axis=1),
        "agreement": (p * (1 - p) * g).sum(axis=1),
        "nonlinear": (p * np.maximum((p * g).sum(axis=1, keepdims=True) - g, 0)).sum(axis=1),
    }
    for reading, values in expected.items():
        got = ibal_scores(F_pool, logits, sums, loss=loss, reading=reading)
        np.testing.assert_allclose(got, values, rtol=1e-10, atol=1e-10, err_msg=reading)


def test_literal_eq2_is_identically_zero_for_cross_entropy(problem):
    F_pool, F_labelled, logits, y = problem
    sums = class_feature_sums(F_labelled, y, N_CLASSES)
    target_scale = np.abs(ibal_scores(F_pool, logits, sums, loss=SoftmaxCrossEntropy())).max()
    literal = literal_ibal_scores(F_pool, logits, sums, loss=SoftmaxCrossEntropy())
    assert target_scale > 1.0
    np.testing.assert_allclose(literal, 0.0, atol=1e-12 * target_scale)


def test_literal_eq2_is_not_zero_for_one_vs_rest(problem):
    """The zero is a property of softmax cross-entropy, not of the code."""
    F_pool, F_labelled, logits, y = problem
    sums = class_feature_sums(F_labelled, y, N_CLASSES)
    literal = literal_ibal_scores(F_pool, logits, sums, loss=OneVsRestLogistic())
    assert np.abs(literal).max() > 1e-3


def test_chunked_scores_equal_one_chunk(problem, monkeypatch):
    F_pool, F_labelled, logits, y = problem
    sums = class_feature_sums(F_labelled, y, N_CLASSES)
    whole = ibal_scores(F_pool, logits, sums, loss=SoftmaxCrossEntropy(), reading="nonlinear")
    monkeypatch.setattr(representer, "POOL_CHUNK", 4)
    chunked = ibal_scores(F_pool, logits, sums, loss=SoftmaxCrossEntropy(), reading="nonlinear")
    # chunks of 4 rows are other BLAS products than one of 23 (F @ S^T): a BLAS may round
    # them otherwise (kernels chosen by shape, per CPU), so the same scores to float64
    # rounding, not bitwise; a row scored in the wrong chunk would be off by O(1)
    np.testing.assert_allclose(chunked, whole, rtol=1e-12, atol=1e-12 * np.abs(whole).max())


def test_class_feature_sums_against_loop(problem):
    _, F_labelled, _, y = problem
    sums = class_feature_sums(F_labelled, y, N_CLASSES + 1)
    for c in range(N_CLASSES + 1):
        np.testing.assert_allclose(sums[c], F_labelled[y == c].sum(axis=0))
    assert not sums[N_CLASSES].any()  # a class absent from the labelled set


def test_exact_mode_reproduces_refit_logits_on_held_out_points():
    """Eq. 1 after an L2 refit: sum_t alpha_t f_t^T f_x equals W f_x to float tolerance."""
    rng = np.random.default_rng(3)
    F = append_bias(rng.normal(size=(60, 6)))
    y = rng.integers(0, 3, size=60)
    held_out = append_bias(rng.normal(size=(25, 6)))
    reg_lambda = 0.01
    W = refit_last_layer(F, y, 3, reg_lambda)
    alpha = representer_weights(F @ W.T, y, loss=SoftmaxCrossEntropy(),
                                scale=kappa(reg_lambda, len(y)))
    decomposed = representer_logits(alpha, F, held_out)
    naive = np.array([[sum(alpha[t, c] * F[t] @ x for t in range(len(F))) for c in range(3)]
                      for x in held_out])
    np.testing.assert_allclose(decomposed, naive, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(decomposed, held_out @ W.T, rtol=1e-6, atol=1e-6)


def test_reading_and_lambda_are_validated(problem):
    F_pool, F_labelled, logits, y = problem
    sums = class_feature_sums(F_labelled, y, N_CLASSES)
    with pytest.raises(ValueError, match="'reading' parameter must be one of"):
        ibal_scores(F_pool, logits, sums, loss=SoftmaxCrossEntropy(), reading="eq2")
    with pytest.raises(ValueError, match="'reg_lambda' parameter must be finite and > 0"):
        kappa(0.0, 10)
