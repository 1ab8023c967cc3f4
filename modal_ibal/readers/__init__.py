"""Readers: what a query sees of a model, through hooks and closed forms.

``last_layer`` picks the reader for a skorch net (``skorch_net``), a scikit-learn
linear model or MLP (``scikit_learn``) or a pipeline ending in one; each returns
:class:`LastLayerOutputs` (the final layer's input features, logits and the loss
gradients w.r.t. the logits, ``outputs``), read in row chunks where that is exact.
``labels`` holds the one rule from class labels to output columns, ``losses``
the losses' gradients, ``view`` the labelled set and pool as one query sees them.
"""

from ._losses import SoftmaxCrossEntropy
from ._query import ModelAndLabels, QueryInputs, labelled_view, model_and_labels
from .last_layer import last_layer
from .outputs import LastLayer, LastLayerOutputs
from .view import LabelledView

__all__ = [
    "LabelledView",
    "LastLayer",
    "LastLayerOutputs",
    "ModelAndLabels",
    "QueryInputs",
    "SoftmaxCrossEntropy",
    "labelled_view",
    "last_layer",
    "model_and_labels",
]

