"""The experiments' seeded skorch classifier, trained on any labels.

:func:`make_classifier` wraps a network in a
:class:`SeededNeuralNetClassifier`, a skorch net with the cross-entropy loss on the logits that
is reproducible from its ``random_state`` and trains on any labels through ``classes=``.
"""

from __future__ import annotations

import copy
import inspect
import numbers
from contextlib import contextmanager

import numpy as np
import torch
from skorch import NeuralNetClassifier
from skorch.callbacks import EpochScoring
from torch import nn
from torch.utils.data import DataLoader

from .._utils.randomness import seeded_torch_rng
from .._utils.validation import as_numpy, check_nonnegative_float, check_positive_int, is_tensor
from ..readers import ColumnLabels, column_indices, final_linear, label_columns
from ._networks import default_device

__all__ = ["SeededNeuralNetClassifier", "make_classifier"]


class SeededNeuralNetClassifier(NeuralNetClassifier):
    r"""skorch's ``NeuralNetClassifier`` with a ``random_state`` and labels mapped to columns.

    ``fit``, ``partial_fit``, ``initialize`` and module (re-)initialisation run
    inside a fork of torch's CPU generator (and of the net's CUDA device's
    generator), with the forks seeded from ``random_state``: weight
    initialisation, data-loader shuffling and dropout are reproducible, and
    the caller's numpy, python and torch random states (every CUDA device's
    included) are left as they were. Inference draws no seed from torch's
    global generator either.

    Parameters
    ----------
    module : torch.nn.Module class, callable or instance
        As in skorch. An instance is copied and its layers re-initialised
        (``reset_parameters``) at every initialisation, so each ``fit`` starts
        from scratch and the instance passed in is never trained in place.
    *args, **kwargs
        skorch's ``NeuralNetClassifier`` parameters.
    random_state : int, numpy.random.Generator, numpy.random.RandomState or None
        An int gives the same seed to every fit (two nets with the same int
        train identically on the same data); a generator gives a new seed drawn
        from it at each fit; None a fresh unpredictable seed at each fit.

    Notes
    -----
    With ``classes`` given, label ``classes[j]`` trains output column
    :math:`j`: ``y`` of shape (n_samples,) is mapped to the column indices

    .. math::

        t_i = j \quad\text{such that}\quad \text{classes}_j = y_i,

    which reach the criterion as int64, and ``predict`` returns
    ``classes[argmax_j p_ij]``. Any labels work this way (strings, integral or
    other floats, ints outside ``0 .. C - 1``). Without ``classes``, a label
    is its output column (skorch's meaning): ``y`` must hold the ints
    ``0 .. C - 1``, as ints, bools or integral floats, and ``predict``
    returns the argmax column. Callbacks see the targets as column indices;
    skorch's ``valid_acc`` maps them back to labels before scoring.

    Floating-point inputs in float64 are cast to float32 before the module
    sees them.
    """

    def __init__(self, module, *args, random_state=None, **kwargs):
        super().__init__(module, *args, **kwargs)
        self.random_state = random_state

    def fit(self, X, y, **fit_params):
        """Initialise the module and train it from scratch, seeded; see skorch's ``fit``."""
        with self._seeded():
            return super().fit(X, y, **fit_params)

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Train further without re-initialising, seeded; see skorch's ``partial_fit``.

        ``y`` of shape (n_samples,) holds labels, mapped to output columns as
        the class Notes say; a ``ValueError`` names the labels that cannot be.
        """
        with self._seeded():
            if not self.initialized_:
                self.initialize()
            targets = self._column_targets(y)
            return super().partial_fit(X, targets, classes=classes, **fit_params)

    def initialize(self):
        """Initialise module, criterion and optimizer, seeded; returns ``self``."""
        with self._seeded():
            return super().initialize()

    def initialize_module(self):
        """Build ``module_`` under the seed; a module instance is copied and reset."""
        with self._seeded():
            super().initialize_module()
            if isinstance(self.module, nn.Module) and self.module_ is self.module:
                self.module_ = _reinitialised_copy(self.module)
        return self

    def predict(self, X) -> np.ndarray:
        """The label of each sample's most probable output column.

        Parameters
        ----------
        X : input data, as for skorch's ``predict_proba``

        Returns
        -------
        ndarray of shape (n_samples,)
            ``classes[argmax_j p_ij]`` when ``classes`` is given, else the
            column index ``argmax_j p_ij``.
        """
        columns = self.predict_proba(X).argmax(axis=1)  # [n]
        labels = self._given_classes()
        return columns if labels is None else labels[columns]

    def get_iterator(self, dataset, training=False):
        """skorch's data loader; one for inference draws its seed from a private generator.

        A ``DataLoader`` draws a base seed for its workers each time it is
        iterated, from torch's global generator unless it has its own. Training
        runs inside the seeded fork, so only inference needs its own generator.
        """
        if training or self.iterator_valid is not DataLoader:
            return super().get_iterator(dataset, training=training)
        kwargs = self.get_params_for("iterator_valid")
        batch_size = kwargs.setdefault("batch_size", self.batch_size)
        if batch_size == -1:
            kwargs["batch_size"] = len(dataset)
        kwargs.setdefault("generator", torch.Generator())
        return DataLoader(dataset, **kwargs)

    def infer(self, x, **fit_params):
        """skorch's ``infer`` on a batch whose float64 parts are cast to float32."""
        return super().infer(_float64_to_float32(x), **fit_params)

    def get_loss(self, y_pred, y_true, *args, **kwargs):
        """skorch's ``get_loss`` with integer targets cast to int64."""
        if isinstance(y_true, torch.Tensor) and y_true.dtype in _SMALL_INTS:
            y_true = y_true.long()
        return super().get_loss(y_pred, y_true, *args, **kwargs)

    @property
    def _default_callbacks(self):
        labels = self._given_classes()
        if labels is None:
            return super()._default_callbacks
        return [
            (name, EpochScoring("accuracy", name=name, lower_is_better=False,
                                target_extractor=ColumnLabels(labels)))
            if name == "valid_acc" else (name, callback)
            for name, callback in super()._default_callbacks
        ]

    def _given_classes(self) -> np.ndarray | None:
        if self.classes is None or len(self.classes) == 0:
            return None
        return np.asarray(self.classes)

    def _column_targets(self, y):
        """``y`` as int64 output-column indices; None (targets inside a Dataset) passes."""
        if y is None:
            return None
        values = as_numpy(y) if is_tensor(y) else np.asarray(y)
        if values.ndim != 1:
            raise ValueError(
                "The 'y' parameter must be a 1-D array of class labels, one per sample. "
                f"Got shape {values.shape} instead."
            )
        n_outputs = _n_outputs(self.module_)
        labels = self._given_classes()
        if labels is not None:
            if n_outputs is not None and n_outputs != len(labels):
                raise ValueError(
                    f"The module's final nn.Linear has {n_outputs} outputs, but the net's "
                    f"'classes' parameter names {len(labels)} classes."
                )
            return label_columns(values, labels)
        return column_indices(values, n_outputs)

    @contextmanager
    def _seeded(self):
        """Fork the torch RNG and seed it, once per outermost call."""
        if getattr(self, "seeding_", False):
            yield
            return
        seed = _seed_from(self.random_state)
        device = self.device if self.device is not None else "cpu"
        with seeded_torch_rng(seed, device):
            self.seeding_ = True
            try:
                yield
            finally:
                self.seeding_ = False


def make_classifier(
    module,
    *,
    classes,
    max_epochs: int = 50,
    lr: float = 1e-3,
    batch_size: int = 64,
    weight_decay: float = 0.0,
    optimizer=torch.optim.Adam,
    random_state=None,
    device: str | None = None,
    verbose: int = 0,
    **net_kwargs,
) -> SeededNeuralNetClassifier:
    r"""A :class:`SeededNeuralNetClassifier` set up for active learning on logits.

    Parameters
    ----------
    module : torch.nn.Module class, callable or instance
        Returns logits from a final ``nn.Linear`` (e.g. :class:`MLP`,
        :class:`SmallCNN`, :func:`cifar_resnet18`). ``module__*`` keyword
        arguments reach its constructor, as in skorch.
    classes : int or array-like of shape (C,)
        Every class, so that a labelled set that lacks some still gets an
        output layer of full size: their number ``C`` for the labels
        ``0 .. C - 1``, or the labels themselves, sorted and distinct (as
        ``numpy.unique`` returns them; strings, floats or any ints). Label
        ``classes[j]`` trains output column ``j`` and ``predict`` returns
        labels; ``y`` may be a list, an array, or integral floats such as
        ``0.0, 1.0`` for int classes. When ``module`` takes an ``n_classes``
        argument and no ``module__n_classes`` is given, it is set to ``C``.
    max_epochs : int, default=50
    lr : float, default=1e-3
    batch_size : int, default=64
    weight_decay : float, default=0.0
        The optimizer's L2 penalty; :mod:`modal_ibal.readers` reads it as the
        regularisation :math:`\lambda = \text{weight\_decay} / 2` of paper Eq. 1.
    optimizer : torch optimizer class, default=torch.optim.Adam
    random_state : int, numpy.random.Generator or None, default=None
        See :class:`SeededNeuralNetClassifier`.
    device : str, optional
        Default :func:`default_device`.
    verbose : int, default=0
    **net_kwargs
        Any other skorch parameter; these override the defaults below.

    Returns
    -------
    SeededNeuralNetClassifier
        Unfitted, with ``criterion=torch.nn.CrossEntropyLoss``,
        ``train_split=None`` (all labels train), shuffled mini-batches
        (``iterator_train__shuffle=True``) and ``classes`` the sorted labels
        (``[0, ..., C - 1]`` for an int).

    Examples
    --------
    >>> from modal_ibal.experiments._datasets import make_synthetic
    >>> X, y = make_synthetic((20, 10, 5))
    >>> net = make_classifier(MLP, classes=3, module__n_features=2, max_epochs=2,
    ...                       random_state=0, device="cpu")
    >>> net.fit(X, y).predict_proba(X).shape
    (35, 3)
    """
    labels = _check_classes(classes)
    check_positive_int(max_epochs, "max_epochs")
    check_positive_int(batch_size, "batch_size")
    check_nonnegative_float(weight_decay, "weight_decay")
    if isinstance(module, nn.Module):
        _check_instance_outputs(module, len(labels))
    elif _takes_n_classes(module):
        given = net_kwargs.setdefault("module__n_classes", len(labels))
        if given != len(labels):
            raise ValueError(
                f"The 'module__n_classes' parameter ({given!r}) of make_classifier must equal "
                f"the number of classes, {len(labels)}."
            )
    settings = {
        "criterion": torch.nn.CrossEntropyLoss,
        "train_split": None,
        "iterator_train__shuffle": True,
        "optimizer__weight_decay": weight_decay,
    }
    settings.update(net_kwargs)
    return SeededNeuralNetClassifier(
        module,
        classes=labels,
        max_epochs=max_epochs,
        lr=lr,
        batch_size=batch_size,
        optimizer=optimizer,
        random_state=random_state,
        device=default_device() if device is None else device,
        verbose=verbose,
        **settings,
    )


_SMALL_INTS = (torch.uint8, torch.int8, torch.int16, torch.int32)
_MAX_SEED = 2**63 - 1


def _seed_from(random_state) -> int:
    """One torch seed from ``random_state`` (never the global numpy state)."""
    if random_state is None:
        return int(np.random.default_rng().integers(_MAX_SEED))
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if not 0 <= random_state <= _MAX_SEED:
            raise ValueError(
                f"The 'random_state' parameter must be an int in [0, 2**63 - 1]. "
                f"Got {random_state} instead."
            )
        return int(random_state)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(_MAX_SEED))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(_MAX_SEED))
    raise TypeError(
        "The 'random_state' parameter must be None, an int, a numpy.random.Generator or a "
        f"numpy.random.RandomState. Got {random_state!r} instead."
    )


def _reinitialised_copy(module: nn.Module) -> nn.Module:
    """A deep copy of ``module`` whose layers are freshly initialised."""
    fresh = copy.deepcopy(module)
    for layer in fresh.modules():
        reset = getattr(layer, "reset_parameters", None)
        if callable(reset):
            reset()
    return fresh


def _float64_to_float32(x):
    if isinstance(x, torch.Tensor):
        return x.float() if x.dtype == torch.float64 else x
    if isinstance(x, np.ndarray):
        return x.astype(np.float32) if x.dtype == np.float64 else x
    if isinstance(x, dict):
        return {key: _float64_to_float32(value) for key, value in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_float64_to_float32(value) for value in x)
    return x


def _check_classes(classes) -> list:
    """The sorted, distinct labels of every class, from the labels or their number C."""
    if isinstance(classes, numbers.Integral) and not isinstance(classes, bool):
        labels = np.arange(int(classes))
    else:
        labels = np.asarray(classes)
    try:
        ok = labels.ndim == 1 and labels.size >= 2 and np.array_equal(np.unique(labels), labels)
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(
            "The 'classes' parameter of make_classifier must list every class once, in sorted "
            "order (at least 2 labels, as numpy.unique returns them), or give their number C "
            f"(C >= 2) for the labels 0, 1, ..., C - 1. Got {classes!r} instead."
        )
    return labels.tolist()


def _n_outputs(module: nn.Module) -> int | None:
    try:
        return final_linear(module)[1].out_features
    except TypeError:
        return None


def _takes_n_classes(module) -> bool:
    try:
        parameters = inspect.signature(module).parameters
    except (TypeError, ValueError):
        return False
    return "n_classes" in parameters


def _check_instance_outputs(module: nn.Module, n_classes: int) -> None:
    try:
        name, linear = final_linear(module)
    except TypeError:
        return
    if linear.out_features != n_classes:
        raise ValueError(
            f"The module's final nn.Linear '{name}' has {linear.out_features} outputs, but the "
            f"'classes' parameter of make_classifier names {n_classes} classes."
        )
