"""The loss gradients w.r.t. the logits: closed forms against their definitions and autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import expit, softmax

from modal_ibal.readers._losses import AutogradLoss, OneVsRestLogistic, SoftmaxCrossEntropy


@pytest.fixture
def logits():
    return np.random.default_rng(1).normal(scale=2.0, size=(23, 4))


def test_softmax_cross_entropy_gradient_is_p_minus_the_label(logits):
    A = SoftmaxCrossEntropy().gradients(logits)  # [N, y, c]
    expected = softmax(logits, axis=1)[:, None, :] - np.eye(4)[None, :, :]
    np.testing.assert_allclose(A, expected, atol=1e-12)


def test_one_vs_rest_gradient_is_the_sigmoid_minus_the_label(logits):
    A = OneVsRestLogistic().gradients(logits)
    expected = expit(logits)[:, None, :] - np.eye(4)[None, :, :]
    np.testing.assert_allclose(A, expected, atol=1e-12)


def test_autograd_matches_closed_form_cross_entropy(logits):
    np.testing.assert_allclose(
        AutogradLoss(torch.nn.CrossEntropyLoss()).gradients(logits),
        SoftmaxCrossEntropy().gradients(logits),
        atol=1e-12,
    )


def test_autograd_differentiates_any_criterion_label_by_label(logits):
    criterion = torch.nn.MultiMarginLoss()
    A = AutogradLoss(criterion).gradients(logits)
    for label in range(4):
        phi = torch.tensor(logits[:3], requires_grad=True)
        criterion(phi, torch.full((3,), label)).backward()
        np.testing.assert_allclose(A[:3, label], 3 * phi.grad.numpy(), atol=1e-12)  # mean -> sum


def test_autograd_rejects_criteria_without_reduction():
    with pytest.raises(TypeError, match="no 'reduction' attribute"):
        AutogradLoss(lambda a, b: a)
