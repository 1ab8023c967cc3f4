r"""How the training loss depends on the final layer's logits.

The representer weights of Yeh et al. (2018) need :math:`\partial L(x, y) /
\partial \phi(x)` for every candidate label :math:`y`: a matrix
:math:`A_{y c}` per sample. For the two losses that cover almost every
classifier the matrix has the closed form :math:`A_{y c} = s_c - [y = c]`
with a per-sample *link output* :math:`s`:

* softmax cross-entropy (``nn.CrossEntropyLoss``, skorch's ``NLLLoss`` on a
  softmax output, multinomial logistic regression): :math:`s = \mathrm{softmax}(\phi)`;
* one-vs-rest logistic loss (``SGDClassifier(loss="log_loss")``):
  :math:`s = \sigma(\phi)`, element-wise.

Any other criterion is differentiated with autograd on detached logits
(never through the network), one candidate label at a time, vectorised.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
from scipy.special import expit, softmax

__all__ = ["AutogradLoss", "OneVsRestLogistic", "SoftmaxCrossEntropy"]


class SoftmaxCrossEntropy:
    """Softmax cross-entropy: :math:`\\partial L / \\partial \\phi = \\mathrm{softmax}(\\phi) - e_y`."""

    name = "softmax cross-entropy"

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        return softmax(logits, axis=1)

    def link(self, logits: np.ndarray) -> np.ndarray:
        return softmax(logits, axis=1)

    def gradients(self, logits: np.ndarray) -> np.ndarray:
        """Full matrix ``A[i, y, c]`` of shape (n, C, C); for tests and small C."""
        return _link_gradients(self.link(logits))


class OneVsRestLogistic:
    """One logistic loss per class: :math:`\\partial L / \\partial \\phi = \\sigma(\\phi) - e_y`.

    Probabilities are the normalised sigmoids, as scikit-learn's one-vs-rest
    ``predict_proba`` computes them.
    """

    name = "one-vs-rest logistic"

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        sig = expit(logits)
        return sig / sig.sum(axis=1, keepdims=True)

    def link(self, logits: np.ndarray) -> np.ndarray:
        return expit(logits)

    def gradients(self, logits: np.ndarray) -> np.ndarray:
        return _link_gradients(self.link(logits))


class AutogradLoss:
    """Any per-sample torch criterion, differentiated with autograd on the logits.

    Parameters
    ----------
    criterion : torch.nn.Module
        A loss with a ``reduction`` attribute (it is copied and set to ``'none'``).
    input_transform : callable, optional
        Applied to the logits before the criterion, e.g. ``log_softmax`` for an
        ``NLLLoss`` that skorch feeds with log-probabilities.
    """

    name = "autograd"
    link = None

    def __init__(self, criterion, input_transform: Callable | None = None):
        if not hasattr(criterion, "reduction"):
            raise TypeError(
                f"The criterion {type(criterion).__name__} has no 'reduction' attribute, so its "
                "per-sample gradients cannot be computed; use a torch.nn loss module."
            )
        self.criterion = copy.copy(criterion)
        self.criterion.reduction = "none"
        self.input_transform = input_transform

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        return softmax(logits, axis=1)

    def gradients(self, logits: np.ndarray) -> np.ndarray:
        """``A[i, y, c] = dL(x_i, y) / dphi_c`` of shape (n, C, C), one backward pass."""
        import torch

        n, n_classes = logits.shape
        phi = torch.tensor(logits, dtype=torch.float64)  # [n, C]
        phi = phi.repeat_interleave(n_classes, dim=0).requires_grad_(True)  # [n*C, C]
        labels = torch.arange(n_classes).repeat(n)  # [n*C]
        net_input = self.input_transform(phi) if self.input_transform else phi
        with torch.enable_grad():
            losses = self.criterion(net_input, labels)  # [n*C]
            (grad,) = torch.autograd.grad(losses.sum(), phi)
        return grad.reshape(n, n_classes, n_classes).numpy()


def _link_gradients(link: np.ndarray) -> np.ndarray:
    n_classes = link.shape[1]
    return link[:, None, :] - np.eye(n_classes)[None, :, :]  # [n, C, C]
