r"""Autoencoders whose encoder gives the latent space of the distance score (paper Sect. 2).

The paper projects every sample with "the encoder part of an autoencoder trained
on all the samples" (two CNN layers in the encoder and two in the decoder) and
measures :math:`D(x_i)` (Eq. 3) there. :class:`ConvAutoencoder` is that network
for images, :class:`MLPAutoencoder` its counterpart for vectors. Both are
scikit-learn transformers trained with skorch:

>>> ae = ConvAutoencoder(latent_dim=16, max_epochs=20, random_state=0)  # doctest: +SKIP
>>> codes = ae.fit(X_all).transform(X_pool)                              # doctest: +SKIP
>>> ibal_distance_sampling(learner, X_pool, embedding=ae)                # doctest: +SKIP

Inputs are standardised by one scalar mean and standard deviation learnt in
``fit`` (images keep their structure; pixel scales 0-1, 0-16 or 0-255 train
alike), and the network minimises the mean squared reconstruction error.
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted, validate_data
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping
from torch import nn

from ._seeding import seeded_torch_rng

__all__ = ["ConvAutoencoder", "ConvAutoencoderModule", "MLPAutoencoder", "MLPAutoencoderModule"]

_TRANSFORM_BATCH = 4096
_SEED_BOUND = np.iinfo(np.int32).max


def _conv_out(size: int) -> int:
    """Output size of a 3x3 convolution with stride 2 and padding 1: ceil(size / 2)."""
    return (size + 1) // 2


class ConvAutoencoderModule(nn.Module):
    """Two strided convolutions, a linear bottleneck and two transposed convolutions.

    Parameters
    ----------
    input_shape : tuple of int
        (channels, height, width) of one sample.
    channels : tuple of int
        Output channels of the first and second convolution.
    latent_dim : int
        Size of the code.
    """

    def __init__(self, input_shape=(1, 8, 8), channels=(16, 32), latent_dim=16):
        super().__init__()
        n_channels, height, width = input_shape
        first, second = channels
        grid = (second, _conv_out(_conv_out(height)), _conv_out(_conv_out(width)))
        flat = int(np.prod(grid))
        self.input_shape = tuple(input_shape)
        self.encoder = nn.Sequential(
            nn.Conv2d(n_channels, first, 3, stride=2, padding=1),  # [B, c1, H/2, W/2]
            nn.ReLU(),
            nn.Conv2d(first, second, 3, stride=2, padding=1),  # [B, c2, H/4, W/4]
            nn.ReLU(),
            nn.Flatten(),  # [B, c2 * H/4 * W/4]
            nn.Linear(flat, latent_dim),  # [B, latent]
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, flat),
            nn.ReLU(),
            nn.Unflatten(1, grid),  # [B, c2, H/4, W/4]
            nn.ConvTranspose2d(second, first, 3, stride=2, padding=1, output_padding=1),
            nn.ReLU(),  # [B, c1, H/2, W/2]
            nn.ConvTranspose2d(first, n_channels, 3, stride=2, padding=1, output_padding=1),
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, height, width = self.input_shape
        return self.decoder(self.encoder(x))[..., :height, :width]  # crop to [B, C, H, W]


class MLPAutoencoderModule(nn.Module):
    """A mirrored multilayer perceptron with ReLU hidden layers and a linear code.

    Parameters
    ----------
    n_features : int
    hidden_units : tuple of int
        Widths of the encoder's hidden layers (the decoder uses them reversed).
    latent_dim : int
    """

    def __init__(self, n_features=64, hidden_units=(128,), latent_dim=16):
        super().__init__()
        widths = [n_features, *hidden_units]
        encoder: list[nn.Module] = []
        for fan_in, fan_out in itertools.pairwise(widths):
            encoder += [nn.Linear(fan_in, fan_out), nn.ReLU()]
        decoder: list[nn.Module] = [nn.Linear(latent_dim, widths[-1])]
        for fan_in, fan_out in itertools.pairwise(widths[::-1]):
            decoder += [nn.ReLU(), nn.Linear(fan_in, fan_out)]
        self.encoder = nn.Sequential(*encoder, nn.Linear(widths[-1], latent_dim))
        self.decoder = nn.Sequential(*decoder)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def _torch_seed(random_state: Any) -> int:
    """One torch seed from ``random_state``; None draws fresh OS entropy, not global state."""
    if random_state is None:
        return int(np.random.default_rng().integers(_SEED_BOUND))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(_SEED_BOUND))
    return int(check_random_state(random_state).randint(_SEED_BOUND))


def _check_widths(value: Any, name: str, owner: str, length: int | None = None) -> tuple:
    ok = isinstance(value, Sequence) and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1 for v in value
    )
    if not ok or (length is not None and len(value) != length) or len(value) == 0:
        size = f"{length} " if length is not None else ""
        raise ValueError(
            f"The '{name}' parameter of {owner} must be a tuple of {size}positive ints. "
            f"Got {value!r} instead."
        )
    return tuple(int(v) for v in value)


def _check_positive(value: Any, name: str, owner: str, kind: type = numbers.Integral):
    if isinstance(value, bool) or not isinstance(value, kind) or not value > 0:
        what = "a positive int" if kind is numbers.Integral else "a positive number"
        raise ValueError(
            f"The '{name}' parameter of {owner} must be {what}. Got {value!r} instead."
        )
    return value


def _as_float32(X: np.ndarray) -> np.ndarray:
    """float32, C-contiguous and writeable (torch warns on read-only arrays); no copy if already so."""
    return np.require(X, dtype=np.float32, requirements=["C", "W"])


class _Autoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Shared skorch training loop and batched encoding; subclasses define shapes and modules."""

    def _module(self) -> tuple[type[nn.Module], dict]:
        raise NotImplementedError

    def _check_X(self, X, *, reset: bool) -> np.ndarray:
        raise NotImplementedError

    def _check_params(self) -> None:
        owner = type(self).__name__
        _check_positive(self.latent_dim, "latent_dim", owner)
        _check_positive(self.max_epochs, "max_epochs", owner)
        _check_positive(self.batch_size, "batch_size", owner)
        _check_positive(self.lr, "lr", owner, numbers.Real)
        if self.patience is not None:
            _check_positive(self.patience, "patience", owner)

    def _device(self) -> str:
        if self.device is None:
            return "cuda" if torch.cuda.is_available() else "cpu"
        return str(self.device)

    def _standardise(self, X: np.ndarray) -> np.ndarray:
        X = X - np.float32(self.offset_)
        X /= np.float32(self.scale_)
        return X

    def fit(self, X, y=None):
        """Train the autoencoder to reconstruct ``X``.

        Parameters
        ----------
        X : array-like
            Training samples (all of the pool and the labelled set, as in the paper).
        y : None
            Ignored; present for the scikit-learn API.

        Returns
        -------
        self
        """
        self._check_params()
        X = self._check_X(X, reset=True)
        self.offset_ = float(X.mean(dtype=np.float64))
        spread = float(X.std(dtype=np.float64))
        self.scale_ = spread if spread > 0 else 1.0
        X = self._standardise(X)
        module, module_params = self._module()
        callbacks = []
        if self.patience is not None:
            callbacks.append(("early_stopping", EarlyStopping(monitor="train_loss",
                                                              patience=self.patience)))
        self.device_ = self._device()
        net = NeuralNet(
            module,
            criterion=nn.MSELoss,
            optimizer=torch.optim.Adam,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            iterator_train__shuffle=True,
            train_split=None,
            callbacks=callbacks,
            device=self.device_,
            verbose=int(self.verbose),
            **{f"module__{key}": value for key, value in module_params.items()},
        )
        with seeded_torch_rng(_torch_seed(self.random_state), self.device_):
            net.fit(X, X)
        net.module_.eval()
        self.net_ = net
        self.loss_curve_ = np.asarray(net.history[:, "train_loss"], dtype=np.float64)
        return self

    def transform(self, X) -> np.ndarray:
        """Encode samples into the latent space.

        Parameters
        ----------
        X : array-like
            Samples shaped as in ``fit``.

        Returns
        -------
        ndarray of shape (n_samples, latent_dim), float32
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        module = self.net_.module_
        module.eval()
        codes = np.empty((X.shape[0], self.latent_dim), dtype=np.float32)
        with torch.no_grad():
            for start in range(0, X.shape[0], _TRANSFORM_BATCH):  # standardised batch by batch
                batch = self._standardise(X[start : start + _TRANSFORM_BATCH])
                batch = torch.from_numpy(batch).to(self.device_)
                codes[start : start + _TRANSFORM_BATCH] = module.encode(batch).cpu().numpy()
        return codes

    @property
    def _n_features_out(self) -> int:
        return self.latent_dim

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


_PARAMS_DOC = """
    latent_dim : int, default=16
        Size of the code :math:`z` (the columns of ``transform``'s output).
    max_epochs : int, default=30
        Training epochs (the most, when ``patience`` is set).
    lr : float, default=1e-3
        Adam learning rate.
    batch_size : int, default=128
        Samples per training step.
    patience : int or None, default=None
        Stop early when the training loss has not improved by 0.01% (relative)
        for this many epochs (skorch ``EarlyStopping`` on ``train_loss``);
        None trains for exactly ``max_epochs``.
    device : str or None, default=None
        torch device; None means ``'cuda'`` when available, else ``'cpu'``.
    random_state : int, RandomState, Generator or None, default=None
        Seeds weight initialisation and batch shuffling in a fork of torch's
        CPU generator (and of the training device's CUDA generator), seeding
        only the forks: the caller's numpy, python and torch random states,
        CUDA included, are left as they were. None draws a fresh seed from the
        operating system.
    verbose : int, default=0
        1 prints skorch's per-epoch table of the training loss.
"""

_ATTRIBUTES_DOC = """
    net_ : skorch.NeuralNet
        The trained network (``net_.module_.encode`` is the encoder).
    n_features_in_ : int
        Number of values per sample.
    offset_, scale_ : float
        Mean and standard deviation of the training values, used to standardise.
    loss_curve_ : ndarray of shape (n_epochs,)
        Mean squared reconstruction error (of standardised inputs) per epoch.
    device_ : str
        The device the network was trained on.
"""


class ConvAutoencoder(_Autoencoder):
    __doc__ = f"""Convolutional autoencoder for images, a scikit-learn transformer.

    The encoder is two 3x3 convolutions with stride 2 (ReLU) and a linear
    bottleneck; the decoder mirrors it with two transposed convolutions and
    crops to the input size, so any small image (1x8x8 digits, 1x28x28,
    3x32x32) works.

    Parameters
    ----------
{_PARAMS_DOC.strip(chr(10))}
    channels : tuple of 2 ints, default=(16, 32)
        Output channels of the two convolutions.
    image_shape : tuple of 3 ints or None, default=None
        (channels, height, width). When set, 2-D inputs with
        ``channels * height * width`` columns are read as flattened images;
        4-D inputs must then have this shape.

    Attributes
    ----------
{_ATTRIBUTES_DOC.strip(chr(10))}
    input_shape_ : tuple of int
        (channels, height, width) of one sample.

    Notes
    -----
    ``transform`` gives :math:`z_i`, the space of :math:`D(x_i)` (paper Eq. 3).
    Inputs are 4-D, (n_samples, channels, height, width), or 2-D with
    ``image_shape``.

    References
    ----------
    .. [1] Pezeshkpour, Zhao and Singh, "Data Importance-Based Active Learning for
       Limited Labels", 2020, Sect. 2.
    """

    def __init__(
        self,
        latent_dim: int = 16,
        *,
        max_epochs: int = 30,
        lr: float = 1e-3,
        batch_size: int = 128,
        patience: int | None = None,
        device: str | None = None,
        random_state=None,
        verbose: int = 0,
        channels: tuple[int, int] = (16, 32),
        image_shape: tuple[int, int, int] | None = None,
    ):
        self.latent_dim = latent_dim
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.patience = patience
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.channels = channels
        self.image_shape = image_shape

    def _check_params(self) -> None:
        super()._check_params()
        _check_widths(self.channels, "channels", "ConvAutoencoder", length=2)
        if self.image_shape is not None:
            _check_widths(self.image_shape, "image_shape", "ConvAutoencoder", length=3)

    def _module(self):
        return ConvAutoencoderModule, {
            "input_shape": self.input_shape_,
            "channels": tuple(self.channels),
            "latent_dim": self.latent_dim,
        }

    def _check_X(self, X, *, reset: bool) -> np.ndarray:
        if isinstance(X, torch.Tensor):
            X = X.detach().cpu().numpy()
        X = check_array(X, allow_nd=True, dtype=(np.float32, np.float64),
                        input_name="X", estimator=self)
        expected = (tuple(self.image_shape) if self.image_shape is not None
                    else None if reset else self.input_shape_)
        if X.ndim == 2 and self.image_shape is not None:
            if X.shape[1] != int(np.prod(self.image_shape)):
                raise ValueError(
                    f"X has {X.shape[1]} features, but ConvAutoencoder with "
                    f"image_shape={tuple(self.image_shape)} is expecting "
                    f"{int(np.prod(self.image_shape))} features as input."
                )
            X = X.reshape(X.shape[0], *self.image_shape)
        if X.ndim != 4:
            raise ValueError(
                "The 'X' parameter of ConvAutoencoder must be images of shape (n_samples, "
                "channels, height, width), or 2-D rows of flattened images with "
                f"image_shape=(channels, height, width) set. Got shape {X.shape} instead."
            )
        if 0 in X.shape[1:]:
            raise ValueError(
                "The 'X' parameter of ConvAutoencoder must hold images with at least one "
                f"channel, row and column. Got shape {X.shape} instead."
            )
        if expected is not None and X.shape[1:] != expected:
            raise ValueError(
                f"The 'X' parameter of ConvAutoencoder must hold images of shape {expected}"
                f"{' (its image_shape)' if self.image_shape is not None else ', as in fit'}. "
                f"Got images of shape {X.shape[1:]} instead."
            )
        if reset:
            self.input_shape_ = tuple(int(s) for s in X.shape[1:])
            self.n_features_in_ = int(np.prod(self.input_shape_))
        return _as_float32(X)


class MLPAutoencoder(_Autoencoder):
    __doc__ = f"""Fully connected autoencoder for vectors, a scikit-learn transformer.

    Parameters
    ----------
{_PARAMS_DOC.strip(chr(10))}
    hidden_units : tuple of int, default=(128,)
        Widths of the encoder's ReLU hidden layers; the decoder mirrors them.

    Attributes
    ----------
{_ATTRIBUTES_DOC.strip(chr(10))}
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when ``X`` was a DataFrame with string column names.

    Notes
    -----
    ``transform`` gives :math:`z_i`, the space of :math:`D(x_i)` (paper Eq. 3).

    References
    ----------
    .. [1] Pezeshkpour, Zhao and Singh, "Data Importance-Based Active Learning for
       Limited Labels", 2020, Sect. 2.
    """

    def __init__(
        self,
        latent_dim: int = 16,
        *,
        max_epochs: int = 30,
        lr: float = 1e-3,
        batch_size: int = 128,
        patience: int | None = None,
        device: str | None = None,
        random_state=None,
        verbose: int = 0,
        hidden_units: tuple[int, ...] = (128,),
    ):
        self.latent_dim = latent_dim
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.patience = patience
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.hidden_units = hidden_units

    def _check_params(self) -> None:
        super()._check_params()
        _check_widths(self.hidden_units, "hidden_units", "MLPAutoencoder")

    def _module(self):
        return MLPAutoencoderModule, {
            "n_features": self.n_features_in_,
            "hidden_units": tuple(self.hidden_units),
            "latent_dim": self.latent_dim,
        }

    def _check_X(self, X, *, reset: bool) -> np.ndarray:
        if isinstance(X, torch.Tensor):
            X = X.detach().cpu().numpy()
        X = validate_data(self, X, reset=reset, dtype=(np.float32, np.float64))
        return _as_float32(X)
