"""Models for the experiments: torch modules ending in an ``nn.Linear``, and a seeded skorch net.

Every module here returns logits from a final ``nn.Linear`` called ``output``
(``fc`` for the ResNet), the layer whose inputs are the features :math:`f_i`
of the representer theorem (paper Eq. 1) and that :mod:`modal_ibal.extract`
hooks. :func:`make_classifier` wraps a module in a
:class:`SeededNeuralNetClassifier` with the cross-entropy loss on those logits.
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
from skorch.utils import to_numpy
from torch import nn
from torch.utils.data import DataLoader

from ._seeding import seeded_torch_rng
from ._validation import as_numpy, check_nonnegative_float, check_positive_int, is_tensor
from .extract import final_linear

__all__ = [
    "MLP",
    "SeededNeuralNetClassifier",
    "SmallCNN",
    "cifar_resnet18",
    "default_device",
    "make_classifier",
]


def default_device() -> str:
    """``"cuda"`` when torch sees a GPU, else ``"cpu"``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


class MLP(nn.Module):
    """Fully connected net: ``Linear -> ReLU`` blocks, then a final ``nn.Linear`` ``output``.

    With the default ``hidden=(64,)`` it is the paper's synthetic-data model,
    "two linear layers with the relu activation".

    Parameters
    ----------
    n_features : int
        Input dimension.
    n_classes : int
        Number of logits.
    hidden : tuple of int, default=(64,)
        Widths of the hidden layers; ``()`` gives a linear (softmax regression) model.

    Examples
    --------
    >>> import torch
    >>> MLP(2, 3)(torch.zeros(5, 2)).shape
    torch.Size([5, 3])
    """

    def __init__(self, n_features: int, n_classes: int, hidden: tuple[int, ...] = (64,)):
        super().__init__()
        n_features = check_positive_int(n_features, "n_features")
        n_classes = check_positive_int(n_classes, "n_classes")
        widths = [check_positive_int(w, "hidden") for w in _as_tuple(hidden, "hidden")]
        blocks, width_in = [], n_features
        for width in widths:
            blocks += [nn.Linear(width_in, width), nn.ReLU()]
            width_in = width
        self.hidden = nn.Sequential(*blocks)
        self.output = nn.Linear(width_in, n_classes)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Logits, a tensor of shape (n, n_classes), from X of shape (n, n_features)."""
        return self.output(self.hidden(X))  # [n, C]


class SmallCNN(nn.Module):
    """Small conv net for 8 x 8 digits and 28 x 28 Fashion-MNIST; fast on CPU.

    Two ``3x3 conv -> ReLU`` blocks (the first followed by a 2 x 2 max-pool when
    the image is at least 16 pixels wide, the second always), then
    ``Linear -> ReLU`` and the final ``nn.Linear`` ``output``. An 8 x 8 image
    becomes 32 x 4 x 4 features, a 28 x 28 one 32 x 7 x 7.

    Parameters
    ----------
    in_channels : int, default=1
    n_classes : int, default=10
    image_size : int, default=8
        Height and width of the (square) input images, at least 4.
    channels : tuple of 2 int, default=(16, 32)
        Output channels of the two conv layers.
    hidden : int, default=64
        Width of the fully connected layer before ``output``.

    Notes
    -----
    Input of shape (n, in_channels, image_size, image_size); flat rows of shape
    (n, in_channels * image_size ** 2) are reshaped to images.
    """

    def __init__(
        self,
        in_channels: int = 1,
        n_classes: int = 10,
        image_size: int = 8,
        *,
        channels: tuple[int, int] = (16, 32),
        hidden: int = 64,
    ):
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "in_channels")
        n_classes = check_positive_int(n_classes, "n_classes")
        self.image_size = check_positive_int(image_size, "image_size")
        if self.image_size < 4:
            raise ValueError(
                f"The 'image_size' parameter of SmallCNN must be >= 4. Got {image_size} instead."
            )
        channels = _as_tuple(channels, "channels")
        if len(channels) != 2:
            raise ValueError(
                f"The 'channels' parameter of SmallCNN must hold 2 ints. Got {channels!r} instead."
            )
        c1, c2 = (check_positive_int(c, "channels") for c in channels)
        hidden = check_positive_int(hidden, "hidden")
        pool_first = self.image_size >= 16
        size = self.image_size // 2 if pool_first else self.image_size
        size //= 2
        self.features = nn.Sequential(
            nn.Conv2d(self.in_channels, c1, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2) if pool_first else nn.Identity(),
            nn.Conv2d(c1, c2, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.hidden = nn.Sequential(nn.Linear(c2 * size * size, hidden), nn.ReLU())
        self.output = nn.Linear(hidden, n_classes)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Logits, a tensor of shape (n, n_classes)."""
        if X.ndim == 2:
            X = X.reshape(len(X), self.in_channels, self.image_size, self.image_size)
        return self.output(self.hidden(self.features(X)))  # [n, C]


def cifar_resnet18(n_classes: int = 100) -> nn.Module:
    """torchvision's ResNet-18 with the CIFAR stem, randomly initialised (no download).

    The 7 x 7 stride-2 first convolution becomes a 3 x 3 stride-1 one and the
    max-pool is dropped, so a 32 x 32 image keeps its resolution into the first
    residual stage (He et al., 2016, Sec. 4.2 for CIFAR). The final layer ``fc``
    is the ``nn.Linear`` that :mod:`modal_ibal.extract` hooks.

    Parameters
    ----------
    n_classes : int, default=100

    Returns
    -------
    torchvision.models.ResNet
        Input (n, 3, 32, 32), logits (n, n_classes).

    References
    ----------
    K. He, X. Zhang, S. Ren, J. Sun. Deep residual learning for image recognition.
    CVPR 2016.
    """
    from torchvision.models import resnet18

    n_classes = check_positive_int(n_classes, "n_classes")
    net = resnet18(weights=None, num_classes=n_classes)
    net.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    net.maxpool = nn.Identity()
    return net


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
                                target_extractor=_ColumnLabels(labels)))
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
            return _columns_of(values, labels)
        return _checked_column_indices(values, n_outputs)

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
        The optimizer's L2 penalty; :mod:`modal_ibal.extract` reads it as the
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
    >>> from modal_ibal.datasets import make_synthetic
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


def _columns_of(y: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """The output column of each label in ``y``: its index in ``classes``, as int64."""
    order = np.argsort(classes, kind="stable")
    ordered = classes[order]
    try:
        at = np.minimum(np.searchsorted(ordered, y), len(ordered) - 1)  # [n]
        known = ordered[at] == y  # [n]
    except TypeError:  # labels that do not compare with the classes, e.g. str and int
        at, known = None, np.zeros(len(y), dtype=bool)
    if not known.all():
        unknown = sorted({str(label) for label in y[~known].tolist()})
        raise ValueError(
            f"The 'y' parameter holds labels {unknown[:5]} that are not among the net's "
            f"classes {classes.tolist()[:10]}. Pass classes=[...] listing every class, sorted as "
            "numpy.unique returns them."
        )
    return order[at].astype(np.int64)


def _checked_column_indices(y: np.ndarray, n_outputs: int | None) -> np.ndarray:
    """Labels that are output columns themselves (ints, bools, integral floats) as int64."""
    if y.dtype.kind == "f":
        integral = np.isfinite(y) & (y == np.floor(y))
        if not integral.all():
            _raise_not_columns(y[~integral])
    elif y.dtype.kind not in "biu":
        _raise_not_columns(y)
    columns = y.astype(np.int64)
    if len(columns) == 0:
        return columns
    low, high = int(columns.min()), int(columns.max())
    if low < 0:
        _raise_outside(low, "labels are never negative")
    if n_outputs is not None and high >= n_outputs:
        _raise_outside(high, f"the module has {n_outputs} outputs")
    return columns


def _raise_outside(label: int, reason: str) -> None:
    raise ValueError(
        f"The 'y' parameter holds the label {label}, but {reason}: without classes=, a label "
        "is the index of its output column, 0, 1, ..., C - 1. Pass classes=[...] listing "
        "every class to train on other labels."
    )


def _raise_not_columns(labels: np.ndarray) -> None:
    shown = sorted({str(label) for label in labels[:100].tolist()})[:5]
    raise ValueError(
        f"The 'y' parameter holds labels such as {shown} that are not output column indices. "
        "Without classes=, label c trains output column c of the loss (CrossEntropyLoss), so y "
        "must hold the ints 0, 1, ..., C - 1; to train on other labels (strings, floats), pass "
        "classes=[...] listing every class, e.g. make_classifier(..., classes=[...])."
    )


def _n_outputs(module: nn.Module) -> int | None:
    try:
        return final_linear(module)[1].out_features
    except TypeError:
        return None


class _ColumnLabels:
    """Target extractor for skorch scoring: output-column indices back to class labels."""

    def __init__(self, classes: np.ndarray):
        self.classes = classes

    def __call__(self, y) -> np.ndarray:
        return self.classes[to_numpy(y)]


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


def _as_tuple(value, name: str) -> tuple:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return (value,)
    if isinstance(value, (tuple, list)):
        return tuple(value)
    raise ValueError(f"The '{name}' parameter must be a tuple of ints. Got {value!r} instead.")
