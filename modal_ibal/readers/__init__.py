"""Readers: what a query sees of a model, through hooks and closed forms.

``last_layer`` picks the reader for a skorch net (``skorch_net``), a scikit-learn
linear model or MLP (``scikit_learn``) or a pipeline ending in one; each returns
:class:`LastLayerOutputs` (the final layer's input features, logits and the loss
gradients w.r.t. the logits, ``outputs``), read in row chunks where that is exact.
``labels`` holds the one rule from class labels to output columns, ``losses``
the losses' gradients, ``view`` the labelled set and pool as one query sees them,
``probabilities`` the pool's class probabilities. ``query`` is the strategies'
door: a query's inputs (pool, batch size, model, labelled set) checked once.
"""

from ._labels import ColumnLabels, column_indices, label_columns, label_vector
from ._last_layer import (
    check_n_features,
    check_single_output,
    last_layer,
    named_input_errors,
)
from ._losses import SoftmaxCrossEntropy
from ._outputs import DEFAULT_BATCH_SIZE, LastLayer, LastLayerOutputs
from ._probabilities import pool_probabilities
from ._query import ModelAndLabels, QueryInputs, labelled_view, model_and_labels
from ._skorch_net import final_linear, held_module
from ._view import COLD_START_STRATEGIES, LabelledView, fitted_estimator, resolve_labelled_set

__all__ = [
    "COLD_START_STRATEGIES",
    "DEFAULT_BATCH_SIZE",
    "ColumnLabels",
    "LabelledView",
    "LastLayer",
    "LastLayerOutputs",
    "ModelAndLabels",
    "QueryInputs",
    "SoftmaxCrossEntropy",
    "check_n_features",
    "check_single_output",
    "column_indices",
    "final_linear",
    "fitted_estimator",
    "held_module",
    "label_columns",
    "label_vector",
    "labelled_view",
    "last_layer",
    "model_and_labels",
    "named_input_errors",
    "pool_probabilities",
    "resolve_labelled_set",
]

