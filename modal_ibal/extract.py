r"""What a fitted classifier's final linear layer sees and says.

IBAL needs, for any input, the penultimate features :math:`f(x)` (the input of
the final linear layer), the logits :math:`\phi(x) = W f(x) + b`, and how the
training loss depends on :math:`\phi` (:mod:`modal_ibal.losses`).
:func:`last_layer` returns a reader for each supported estimator:

* a skorch ``NeuralNet``/``NeuralNetClassifier``: a forward hook on the final
  ``nn.Linear`` (the last in ``named_modules()`` order, or the one named by
  ``layer``) records its input and output while the module runs over the
  pool in batches, in eval mode, under ``torch.no_grad()``, on the module's
  device. The hook is removed and every submodule's train/eval mode restored
  in ``finally``; parameters, gradients and other hooks are not touched.
* scikit-learn ``LogisticRegression``, ``SGDClassifier(loss="log_loss")``:
  :math:`f = x`, exact with no hooks.
* ``MLPClassifier``: :math:`f` = the last hidden activation, computed from
  ``coefs_`` and ``intercepts_``.
* a ``Pipeline`` ending in any of these: the other steps transform ``X`` first.

A binary linear model has one logit :math:`z`; it is represented as the
two-class softmax with logits :math:`(-z/2, z/2)`, whose probabilities equal
the model's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ._random import preserved_global_random_state
from ._validation import as_numpy, is_tensor
from .losses import AutogradLoss, OneVsRestLogistic, SoftmaxCrossEntropy

DEFAULT_BATCH_SIZE = 4096
STREAM_ROWS = 16384  # rows read at once when a pool is streamed through the model
DEFAULT_REG_LAMBDA = 0.003  # Yeh et al.'s fine-tuning value, used when nothing else is known


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

    def reg_lambda(self, n_labelled: int) -> float:
        r"""The model's L2 strength :math:`\lambda` in :math:`\frac1n\sum L + \lambda\lVert W\rVert^2`."""
        return DEFAULT_REG_LAMBDA

    def encode_labels(self, y, name: str = "y_labelled") -> np.ndarray:
        """Map labels onto indices into ``classes_``; unknown labels raise."""
        return encode_labels(y, self.classes_, name)

    def _features_and_logits(self, X) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
        raise NotImplementedError


def encode_labels(y, classes: np.ndarray, name: str = "y_labelled") -> np.ndarray:
    """Indices of ``y`` in ``classes``, with a clear error for unknown labels.

    Parameters
    ----------
    y : array-like of shape (n_samples,) or (n_samples, 1)
    classes : ndarray of shape (n_classes,)
    name : str
        The parameter name used in error messages.

    Returns
    -------
    ndarray of shape (n_samples,), int64
    """
    y = as_numpy(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(
            f"The '{name}' parameter must be a 1-D array of class labels. Got shape {y.shape} instead."
        )
    classes = np.asarray(classes)
    lookup = {label: index for index, label in enumerate(classes.tolist())}
    try:
        return np.fromiter((lookup[label] for label in y.tolist()), dtype=np.int64, count=len(y))
    except (KeyError, TypeError):
        unknown = sorted({str(label) for label in y.tolist() if label not in lookup})
        raise ValueError(
            f"The '{name}' parameter holds labels {unknown[:5]} that the model does not know; "
            f"its classes_ are {classes.tolist()[:10]}. Labels must be among the classes the "
            "estimator was fitted with (for skorch, pass classes=... to the net)."
        ) from None


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


def last_layer(estimator, *, layer: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE):
    """Build the reader of a fitted estimator's final linear layer.

    Parameters
    ----------
    estimator : skorch NeuralNet, LogisticRegression, SGDClassifier, MLPClassifier or Pipeline
        A fitted classifier; a ``Pipeline`` must end in one of the others.
    layer : str, optional
        For skorch modules, the ``named_modules()`` name of the final ``nn.Linear``;
        by default the last ``nn.Linear`` in the module.
    batch_size : int, default=4096
        Samples per forward pass.

    Returns
    -------
    LastLayer

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted (skorch's ``NotInitializedError`` is one).
    TypeError
        If the estimator has no linear output layer IBAL can read.
    """
    if isinstance(estimator, Pipeline):
        check_is_fitted(estimator)
        return _PipelineLayer(estimator, last_layer(estimator.steps[-1][1], layer=layer,
                                                    batch_size=batch_size))
    if is_skorch_net(estimator):
        return _SkorchLayer(estimator, layer=layer, batch_size=batch_size)
    if isinstance(estimator, MLPClassifier):
        return _MLPClassifierLayer(estimator)
    if isinstance(estimator, (LogisticRegression, SGDClassifier)):
        return _LinearModelLayer(estimator)
    raise TypeError(
        "The 'classifier' parameter must be a skorch NeuralNetClassifier, a scikit-learn "
        "LogisticRegression, SGDClassifier(loss='log_loss') or MLPClassifier, or a Pipeline "
        f"ending in one. Got {type(estimator).__name__} instead."
    )


def is_skorch_net(estimator) -> bool:
    try:
        from skorch import NeuralNet
    except ImportError:  # pragma: no cover
        return False
    return isinstance(estimator, NeuralNet)


def _as_2d_float(X, name: str = "X") -> np.ndarray:
    X = as_numpy(X)
    if X.ndim != 2:
        raise ValueError(
            f"The '{name}' parameter must be 2-D (n_samples, n_features) for a scikit-learn "
            f"linear model. Got shape {X.shape} instead."
        )
    return X.astype(np.float64, copy=False)


def _binary_as_softmax(z: np.ndarray) -> np.ndarray:
    z = z.reshape(-1, 1)
    return np.hstack([-z / 2, z / 2])  # [n, 2]


class _PipelineLayer(LastLayer):
    def __init__(self, pipeline: Pipeline, inner: LastLayer):
        self.pipeline, self.inner = pipeline, inner
        self.classes_, self.loss, self.has_bias = inner.classes_, inner.loss, inner.has_bias

    def reg_lambda(self, n_labelled: int) -> float:
        return self.inner.reg_lambda(n_labelled)

    def _features_and_logits(self, X):
        return self.inner._features_and_logits(self.pipeline[:-1].transform(X))


class _LinearModelLayer(LastLayer):
    r"""LogisticRegression or SGDClassifier(loss='log_loss'): f = x.

    scikit-learn penalises the weights but not the intercept, so at the optimum the
    representer theorem holds for the weights alone,
    :math:`\phi(x) = \sum_i \alpha_i f_i^\top f + b`: the intercept is not folded
    into :math:`f` (``has_bias`` is False) and :math:`\lambda` is the weights'
    penalty. A binary model's logit :math:`z` becomes the softmax logits
    :math:`(-z/2, z/2)`, whose weights :math:`(-w/2, w/2)` have half the squared norm
    of :math:`w`: its :math:`\lambda` is twice that of :math:`w`. Exact for L2
    penalties at convergence; liblinear's penalised synthetic intercept and L1
    penalties are not modelled.
    """

    def __init__(self, model):
        check_is_fitted(model)
        if isinstance(model, SGDClassifier) and model.loss != "log_loss":
            raise TypeError(
                "SGDClassifier needs loss='log_loss' for representer values (a differentiable "
                f"log loss with probabilities). Got loss={model.loss!r} instead."
            )
        self.model = model
        self.classes_ = model.classes_
        self.has_bias = False  # the intercept is not penalised: see the class docstring
        binary = model.coef_.shape[0] == 1
        self._binary_factor = 2.0 if binary else 1.0
        one_vs_rest = isinstance(model, SGDClassifier) or (
            getattr(model, "multi_class", None) == "ovr" or model.solver == "liblinear"
        )
        self.loss = SoftmaxCrossEntropy() if binary or not one_vs_rest else OneVsRestLogistic()

    def reg_lambda(self, n_labelled: int) -> float:
        if isinstance(self.model, SGDClassifier):  # (1/n) sum L + alpha/2 ||w||^2
            if self.model.alpha <= 0:
                return DEFAULT_REG_LAMBDA
            return self._binary_factor * self.model.alpha / 2
        C = self.model.C  # C sum L + 1/2 ||w||^2, divided by C n
        if not np.isfinite(C):
            return DEFAULT_REG_LAMBDA
        return self._binary_factor / (2.0 * C * n_labelled)

    def _features_and_logits(self, X):
        features = _as_2d_float(X)
        z = features @ self.model.coef_.T + self.model.intercept_  # [n, C] or [n, 1]
        return features, (_binary_as_softmax(z) if z.shape[1] == 1 else z)


_ACTIVATIONS = {
    "identity": lambda a: a,
    "logistic": lambda a: 1.0 / (1.0 + np.exp(-a)),
    "tanh": np.tanh,
    "relu": lambda a: np.maximum(a, 0.0),
}


class _MLPClassifierLayer(LastLayer):
    r"""MLPClassifier: f = the last hidden layer's activation.

    As for the linear models, the output layer's intercept is not penalised
    (``has_bias`` is False) and a binary (logistic) output doubles :math:`\lambda`.
    """

    def __init__(self, model: MLPClassifier):
        check_is_fitted(model)
        if model.out_activation_ not in ("softmax", "logistic") or (
            model.out_activation_ == "logistic" and len(model.classes_) != 2
        ):
            raise TypeError(
                "MLPClassifier must be a single-label classifier (softmax output, or logistic "
                "for two classes) for representer values."
            )
        self.model = model
        self.classes_ = model.classes_
        self.has_bias = False  # the intercepts are not penalised
        self.loss = SoftmaxCrossEntropy()
        self._binary_factor = 2.0 if model.out_activation_ == "logistic" else 1.0

    def reg_lambda(self, n_labelled: int) -> float:
        # sklearn minimises mean(L) + alpha / (2 n) * sum ||W||^2
        alpha = self.model.alpha
        if alpha <= 0:
            return DEFAULT_REG_LAMBDA
        return self._binary_factor * alpha / (2.0 * n_labelled)

    def _features_and_logits(self, X):
        activation = _ACTIVATIONS[self.model.activation]
        hidden = _as_2d_float(X)
        for W, b in zip(self.model.coefs_[:-1], self.model.intercepts_[:-1], strict=True):
            hidden = activation(hidden @ W + b)  # [n, h]
        z = hidden @ self.model.coefs_[-1] + self.model.intercepts_[-1]  # [n, C] or [n, 1]
        return hidden, (_binary_as_softmax(z) if z.shape[1] == 1 else z)


@contextlib.contextmanager
def preserved_train_modes(module):
    """Restore the train/eval mode of ``module`` and of every submodule on exit.

    ``module.train(mode)`` would overwrite a mixed state (say, a frozen submodule
    kept in eval mode inside a training model); each flag is restored as it was.
    """
    modes = {m: m.training for m in module.modules()}
    try:
        yield module
    finally:
        for m, training in modes.items():
            m.training = training


def final_linear(module, layer: str | None = None):
    """Find the final ``nn.Linear`` of a torch module.

    Parameters
    ----------
    module : torch.nn.Module
    layer : str, optional
        The ``named_modules()`` name of the layer; default the last ``nn.Linear``.

    Returns
    -------
    (str, torch.nn.Linear)
    """
    import torch

    named = dict(module.named_modules())
    if layer is not None:
        if layer not in named or not isinstance(named[layer], torch.nn.Linear):
            linears = [n for n, m in named.items() if isinstance(m, torch.nn.Linear)]
            raise ValueError(
                f"The 'layer' parameter must name an nn.Linear of the module. Got {layer!r}; "
                f"its nn.Linear layers are {linears}."
            )
        return layer, named[layer]
    linears = [(n, m) for n, m in named.items() if isinstance(m, torch.nn.Linear)]
    if not linears:
        raise TypeError(
            f"The module {type(module).__name__} has no nn.Linear layer. IBAL needs a classifier "
            "whose logits come from a final nn.Linear (the representer theorem's linear layer)."
        )
    return linears[-1]


class _SkorchLayer(LastLayer):
    """A skorch net: forward hook on the final nn.Linear."""

    def __init__(self, net, *, layer: str | None, batch_size: int):
        import torch

        net.check_is_fitted()
        self.net, self.batch_size = net, int(batch_size)
        self.row_block = self.batch_size  # the forward batches start at multiples of it
        self.module = net.module_
        self.layer_name, self.linear = final_linear(self.module, layer)
        self.classes_ = _output_classes(net, self.layer_name, self.linear.out_features)
        self.has_bias = self.linear.bias is not None
        criterion = net.criterion_
        self._outputs_are_probabilities = isinstance(criterion, torch.nn.NLLLoss)
        self.loss = _loss_for_criterion(criterion)

    def reg_lambda(self, n_labelled: int) -> float:
        # torch's weight_decay adds wd * W to the gradient of the mean loss: lambda = wd / 2
        optimizer = getattr(self.net, "optimizer_", None)
        weight = self.linear.weight
        for group in getattr(optimizer, "param_groups", []):
            if any(p is weight for p in group["params"]) and group.get("weight_decay", 0) > 0:
                return group["weight_decay"] / 2.0
        return DEFAULT_REG_LAMBDA

    def _features_and_logits(self, X):
        import torch

        known = isinstance(X, np.ndarray) or is_tensor(X)
        record = _Recorder(len(X) if known else None)
        handle = self.linear.register_forward_hook(record)
        try:
            with preserved_train_modes(self.module), torch.no_grad():
                self.module.eval()
                for out in self._forward_batches(X):
                    out = out[0] if isinstance(out, tuple) else out
                    if self._outputs_are_probabilities:
                        _check_probabilities(out)
        except RuntimeError as error:
            shape = tuple(X.shape) if hasattr(X, "shape") else type(X).__name__
            raise ValueError(
                f"The module could not process the samples of shape {shape}: {error}"
            ) from error
        finally:
            handle.remove()
        if record.n_rows == 0 or record.input_ndim != 2:
            raise ValueError(
                f"The final nn.Linear '{self.layer_name}' must receive 2-D input "
                "(n_samples, n_features)."
            )
        return record.result()

    def _forward_batches(self, X):
        """Fast path for arrays and tensors; skorch's own iterator for anything else."""
        if not (isinstance(X, np.ndarray) or is_tensor(X)):
            with preserved_global_random_state():  # skorch's DataLoader draws a seed
                yield from self.net.forward_iter(X, training=False)
            return
        for start in range(0, len(X), self.batch_size):
            batch = module_input(X[start : start + self.batch_size], self.module)
            yield self.module(batch)


def _output_classes(net, layer_name: str, n_out: int) -> np.ndarray:
    """The label of each output column of a skorch net (METHOD.md section 9).

    skorch hands ``y`` to the criterion as it is, so with ``CrossEntropyLoss`` an
    integer label ``c`` is output column ``c``: for integer labels in
    ``[0, n_out)`` every column's class is known without ``classes=``, even when
    the labelled set lacks some classes. Labels that cannot be column indices
    (strings, non-integral floats, integers out of range) need ``classes=``.
    """
    explicit = getattr(net, "classes", None)
    if explicit is not None and len(explicit):
        classes = np.asarray(explicit)
        if len(classes) != n_out:
            raise ValueError(
                f"The final nn.Linear '{layer_name}' has {n_out} outputs but the net was given "
                f"classes={classes.tolist()[:10]} ({len(classes)} classes). Pass one class per "
                "output column, in column order, or name the output layer with layer=..."
            )
        return classes
    seen = np.asarray(getattr(net, "classes_inferred_", np.arange(n_out)))
    integral = seen.dtype.kind in "iub" or (
        seen.dtype.kind == "f" and bool(np.all(np.isfinite(seen) & (seen == np.round(seen))))
    )
    if not integral or (seen.size and (seen.min() < 0 or seen.max() >= n_out)):
        raise ValueError(
            f"The net was trained on labels {seen.tolist()[:10]}, which are not output "
            f"columns of its final nn.Linear '{layer_name}' (integers in [0, {n_out})). Pass "
            "classes=[...] (every class, in output-column order) to NeuralNetClassifier, or "
            "name the output layer with layer=... if this is not it."
        )
    return np.arange(n_out)


def module_input(batch, module):
    """A batch of samples as the tensor ``module`` takes, on its device.

    Floating-point samples take the dtype of the module's parameters (float64
    arrays become float32 for a float32 net); integer and boolean samples are cast
    the same way, unless the module holds an ``nn.Embedding`` or ``nn.EmbeddingBag``,
    whose inputs are indices. A read-only numpy array is copied first (torch
    cannot share its memory).

    Parameters
    ----------
    batch : ndarray or torch.Tensor of shape (b, ...)
    module : torch.nn.Module

    Returns
    -------
    torch.Tensor of shape (b, ...)
    """
    import torch

    if isinstance(batch, np.ndarray) and not batch.flags.writeable:
        batch = np.array(batch)
    batch = torch.as_tensor(batch)
    parameter = next(module.parameters())
    takes_indices = any(isinstance(m, (torch.nn.Embedding, torch.nn.EmbeddingBag))
                        for m in module.modules())
    if batch.is_floating_point() or not takes_indices:
        return batch.to(device=parameter.device, dtype=parameter.dtype)
    return batch.to(device=parameter.device)


class _Recorder:
    """Forward hook that keeps the final layer's input and output, batch by batch, as float32.

    When the number of samples is known, each batch is copied into arrays allocated
    once, so a batch's tensors are freed as soon as it is recorded: peak memory is
    the result plus one batch, not twice the result (a list of batches, then their
    concatenation). Otherwise, or if the layer runs more often than expected, the
    batches are kept and concatenated at the end.
    """

    def __init__(self, n_samples: int | None):
        self.n_samples = n_samples
        self.n_rows = 0
        self.input_ndim = 0
        self.arrays: tuple[np.ndarray, np.ndarray] | None = None
        self.batches: list[tuple[np.ndarray, np.ndarray]] = []

    def __call__(self, _module, inputs, output) -> None:
        features = inputs[0].detach().float().cpu().numpy()  # [b, d]
        logits = output.detach().float().cpu().numpy()  # [b, C]
        self.input_ndim = features.ndim
        start, stop = self.n_rows, self.n_rows + len(features)
        self.n_rows = stop
        if self.arrays is None and not self.batches and self.n_samples is not None:
            self.arrays = (np.empty((self.n_samples, *features.shape[1:]), np.float32),
                           np.empty((self.n_samples, *logits.shape[1:]), np.float32))
        if self.arrays is not None and (
            stop > self.n_samples or self.arrays[0].shape[1:] != features.shape[1:]
            or self.arrays[1].shape[1:] != logits.shape[1:]
        ):
            self.batches = [(self.arrays[0][:start], self.arrays[1][:start])]
            self.arrays = None
        if self.arrays is None:
            self.batches.append((features, logits))
            return
        self.arrays[0][start:stop] = features
        self.arrays[1][start:stop] = logits

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        if self.arrays is not None:
            return self.arrays[0][: self.n_rows], self.arrays[1][: self.n_rows]
        return (np.concatenate([f for f, _ in self.batches]),
                np.concatenate([z for _, z in self.batches]))


def _check_probabilities(out) -> None:
    import torch

    sums = out.sum(dim=1)
    if bool((out < -1e-4).any()) or not torch.allclose(sums, torch.ones_like(sums), atol=1e-3):
        raise ValueError(
            "The net's criterion is NLLLoss, which skorch feeds with the module's outputs as "
            "probabilities, but the outputs are not probabilities (negative, or rows that do not "
            "sum to 1). A module that ends in a bare nn.Linear needs "
            "criterion=torch.nn.CrossEntropyLoss; else end the module with a softmax."
        )


def _loss_for_criterion(criterion):
    """Closed form for (softmax) cross-entropy, autograd on the logits for the rest."""
    import torch

    plain = getattr(criterion, "weight", None) is None and not getattr(
        criterion, "label_smoothing", 0.0
    )
    if isinstance(criterion, torch.nn.CrossEntropyLoss):
        return SoftmaxCrossEntropy() if plain else AutogradLoss(criterion)
    if isinstance(criterion, torch.nn.NLLLoss):  # skorch takes log of softmax probabilities
        if plain:
            return SoftmaxCrossEntropy()
        return AutogradLoss(criterion, input_transform=lambda phi: phi.log_softmax(dim=1))
    return AutogradLoss(criterion)


def check_fitted(estimator) -> None:
    """Raise ``NotFittedError`` naming the estimator when it is not fitted."""
    try:
        if is_skorch_net(estimator):
            estimator.check_is_fitted()
        else:
            check_is_fitted(estimator)
    except NotFittedError as error:
        raise NotFittedError(
            f"The {type(estimator).__name__} passed as 'classifier' is not fitted yet; fit it "
            "(or give the ActiveLearner X_training and y_training) before querying."
        ) from error
