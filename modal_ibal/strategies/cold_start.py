"""The first batch from zero labels, for the coverage strategies.

What a coverage strategy queries when there is no labelled
set and no fitted model yet (margin weights are then 1: the batch is pure coverage).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..embedding.codes import representation_codes
from ..readers.cold_start import ColdStart, resolve_cold_start
from ..readers.outputs import DEFAULT_BATCH_SIZE
from ..readers.view import model_view
from ..utils.validation import check_same_sample_shape

__all__ = ["cold_start_codes"]


def cold_start_codes(
    classifier,
    X_pool,
    representation: Any,
    *,
    X_labelled=None,
    y_labelled=None,
    layer: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> tuple[ColdStart, np.ndarray, np.ndarray]:
    """Resolve the model and labelled set and map labelled + pool into ``representation``.

    For the strategies that can start from zero labels: the labelled set may be
    empty and the model unfitted, as long as ``representation`` does not need it.

    Parameters
    ----------
    classifier, X_pool, X_labelled, y_labelled
        As in :func:`resolve_cold_start`.
    representation : {'inputs', 'features'}, transformer or callable
        See :func:`modal_ibal.embedding.codes.representation_codes`.
    layer, batch_size
        As in :func:`labelled_view`; read for ``representation='features'`` only.

    Returns
    -------
    start : ColdStart
    Z_labelled : ndarray of shape (n_labelled, n_dims)
        ``n_labelled`` may be 0.
    Z_pool : ndarray of shape (n_pool, n_dims)

    Raises
    ------
    ValueError
        For ``representation='features'`` with an unfitted model.
    """
    start = resolve_cold_start(classifier, X_pool, X_labelled, y_labelled)
    check_same_sample_shape(X_pool, start.X_labelled)

    def features() -> tuple[np.ndarray, np.ndarray]:
        start.require_model("representation='features'")
        view = model_view(start.estimator, X_pool, start.X_labelled, start.y_labelled,
                          layer=layer, batch_size=batch_size)
        return view.labelled.features, view.pool.features

    Z_labelled, Z_pool = representation_codes(representation, X_pool, start.X_labelled, features)
    return start, Z_labelled, Z_pool
