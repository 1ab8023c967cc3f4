"""What every reader returns, and pools read in row chunks.

The outputs of the final layer (:class:`LastLayerOutputs`), the reader interface
(:class:`LastLayer`), and reading a pool in row chunks where that gives the outputs of one
whole read, bitwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._utils.validation import is_tensor
from ._labels import encode_labels

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "STREAM_ROWS",
    "LastLayer",
    "LastLayerOutputs",
    "can_stream",
    "chunk_rows",
    "outputs_in_chunks",
    "read_probabilities",
]

DEFAULT_BATCH_SIZE = 4096
STREAM_ROWS = 16384  # rows read at once when a pool is streamed through the model


@dataclass(frozen=True)
class LastLayerOutputs:
    """Final-layer inputs and outputs for a set of samples.

    Attributes
    ----------
    features : ndarray of shape (n_samples, n_features)
        :math:`f(x)`, without a bias column.
    logits : ndarray of shape (n_samples, n_classes)
        :math:`\\phi(x)`.
    probas : ndarray of shape (n_samples, n_classes)
        :math:`p(y|x)` under the model's loss (softmax of the logits for cross-entropy).
    """

    features: np.ndarray
    logits: np.ndarray
    probas: np.ndarray = field(repr=False)


class LastLayer:
    """Reads a fitted estimator's final linear layer; built by :func:`last_layer`.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels in the order of the logits.
    loss : SoftmaxCrossEntropy, OneVsRestLogistic or AutogradLoss
        How the training loss depends on the logits.
    has_bias : bool
        Whether the final layer has a bias (folded in as a constant feature).
    """

    classes_: np.ndarray
    loss: Any
    has_bias: bool
    #: Rows read together: outputs read in chunks of a multiple of it, on an array or
    #: tensor, equal bitwise those read at once (None: not known, read at once).
    row_block: int | None = None

    def outputs(self, X) -> LastLayerOutputs:
        features, logits = self._features_and_logits(X)
        return LastLayerOutputs(features, logits, self.loss.probabilities(logits))

    def reg_lambda(self, n_labelled: int) -> float | None:
        r"""The model's L2 strength :math:`\lambda` in :math:`\frac1n\sum L + \lambda\lVert W\rVert^2`.

        None when the model has none to read (no weight decay, no penalty): the
        scoring then uses its own default.
        """
        return None

    def encode_labels(self, y, name: str = "y_labelled") -> np.ndarray:
        """Map labels onto indices into ``classes_``; unknown labels raise."""
        return encode_labels(y, self.classes_, name)

    def _features_and_logits(self, X) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
        raise NotImplementedError


def can_stream(layer: LastLayer, X) -> bool:
    """Whether ``X`` can be read in chunks with the outputs of one whole read, bitwise."""
    return (layer.row_block is not None and (isinstance(X, np.ndarray) or is_tensor(X))
            and len(X) > 0)


def chunk_rows(layer: LastLayer, rows: int) -> int:
    """Rows of each chunk of a pool read in chunks: ``rows`` rounded up to a ``row_block``."""
    block = layer.row_block or 1
    return block * max(1, -(-rows // block))


def outputs_in_chunks(layer: LastLayer, X, rows: int) -> Iterator[tuple[slice, LastLayerOutputs]]:
    """``layer.outputs`` of ``X`` chunk by chunk: ``(rows_slice, outputs)``.

    Chunks of :func:`chunk_rows` rows start at multiples of ``layer.row_block``, so
    that the model sees the same batches as in one read and the outputs are
    bitwise the same (:func:`can_stream` must hold).
    """
    step = chunk_rows(layer, rows)
    for start in range(0, len(X), step):
        chunk = slice(start, start + step)
        yield chunk, layer.outputs(X[chunk])


def read_probabilities(layer: LastLayer, X) -> np.ndarray:
    """:math:`p(y|x)` of every row of ``X``: streamed where possible, so only they are held."""
    if not can_stream(layer, X):
        return layer.outputs(X).probas
    probas = None
    for rows, outputs in outputs_in_chunks(layer, X, STREAM_ROWS):
        if probas is None:
            probas = np.empty((len(X), *outputs.probas.shape[1:]), dtype=outputs.probas.dtype)
        probas[rows] = outputs.probas
    return probas
