"""What the two autoencoders share: a skorch-trained sklearn transformer.

A scikit-learn transformer trained with skorch on the mean
squared reconstruction error, with one scalar standardisation learnt in ``fit``.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping
from torch import nn

from .._utils.blocks import fixed_blocks, pad_rows
from .._utils.locks import object_lock
from .._utils.randomness import seeded_torch_rng

_TRANSFORM_BATCH = 4096

__all__ = ["ATTRIBUTES_DOC", "PARAMETERS_DOC", "BaseAutoencoder", "as_float32", "check_widths"]

_SEED_BOUND = np.iinfo(np.int32).max


def _torch_seed(random_state: Any) -> int:
    """One torch seed from ``random_state``; None draws fresh OS entropy, not global state."""
    if random_state is None:
        return int(np.random.default_rng().integers(_SEED_BOUND))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(_SEED_BOUND))
    return int(check_random_state(random_state).randint(_SEED_BOUND))


def check_widths(value: Any, name: str, owner: str, length: int | None = None) -> tuple:
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


def as_float32(X: np.ndarray) -> np.ndarray:
    """float32, C-contiguous and writeable (torch warns on read-only arrays); no copy if already so."""
    return np.require(X, dtype=np.float32, requirements=["C", "W"])


class BaseAutoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
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
        codes = np.empty((X.shape[0], self.latent_dim), dtype=np.float32)
        # short batches padded: a sample's code does not depend on how many samples are
        # encoded with it (utils.blocks)
        with object_lock(module), torch.no_grad():
            module.eval()
            for rows in fixed_blocks(X.shape[0], _TRANSFORM_BATCH):
                batch = torch.from_numpy(self._standardise(X[rows])).to(self.device_)
                encoded = module.encode(pad_rows(batch))
                codes[rows] = encoded[:rows.stop - rows.start].cpu().numpy()
        return codes

    @property
    def _n_features_out(self) -> int:
        return self.latent_dim

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


PARAMETERS_DOC = """
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


ATTRIBUTES_DOC = """
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
