"""The benchmark's pools and nets: digits plus noise, a fitted skorch net, an autoencoder.

A :class:`Workload` holds one pool kind at its largest size; a :class:`Case` is
what a query sees, the pool and labelled-set prefixes of one (N, n), built by
:func:`make_case`.

* ``vector``: 64 features (sklearn digits rows plus Gaussian noise), the MLP
  ``Linear(64, 64)-ReLU-Linear(64, 64)-ReLU-Linear(64, 10)`` with
  ``CrossEntropyLoss``, fitted briefly on digits;
* ``image``: 1 x 8 x 8 digits images plus noise, :class:`modal_ibal.SmallCNN`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.datasets import load_digits
from skorch import NeuralNetClassifier
from torch import nn

from modal_ibal import CachedEmbedding, ConvAutoencoder, MLPAutoencoder
from modal_ibal.experiments._networks import SmallCNN
from modal_ibal.readers._last_layer import last_layer
from modal_ibal.readers._outputs import LastLayerOutputs

N_INSTANCES = 10
WARMUP_POOL = 2_000
NOISE = 0.1
_SAMPLE_BLOCK = 1 << 16


def _digits() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y.astype(np.int64)


def sample_pool(size: int, rng: np.random.Generator, *, image: bool) -> tuple[np.ndarray, np.ndarray]:
    """``size`` noisy copies of random digits, float32: (size, 64) or (size, 1, 8, 8), and labels."""
    X, y = _digits()
    rows = rng.integers(0, len(X), size)
    pool = np.empty((size, 64), dtype=np.float32)
    for start in range(0, size, _SAMPLE_BLOCK):  # no float64 temporaries of the whole pool
        block = rows[start : start + _SAMPLE_BLOCK]
        pool[start : start + len(block)] = X[block] + NOISE * rng.standard_normal(
            (len(block), 64), dtype=np.float32
        )
    return (pool.reshape(size, 1, 8, 8) if image else pool), y[rows]


def vector_module() -> nn.Module:
    """The 64-64-10 MLP of the benchmark."""
    return nn.Sequential(
        nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)
    )


def image_module() -> nn.Module:
    """The digits CNN: :class:`modal_ibal.SmallCNN` on 1 x 8 x 8 images."""
    return SmallCNN(1, 10, 8)


def fit_net(module: Callable[[], nn.Module], X: np.ndarray, y: np.ndarray, *, epochs: int,
            seed: int) -> NeuralNetClassifier:
    """A skorch classifier with logits out, fitted briefly; the caller's torch RNG is untouched.

    ``module`` is a factory, called under the seed, so the initial weights are reproducible.
    """
    with torch.random.fork_rng(), warnings.catch_warnings():
        torch.manual_seed(seed)
        warnings.simplefilter("ignore")
        net = _classifier(module(), epochs).fit(X, y)
    net.module_.eval()
    return net


def _classifier(module: nn.Module, epochs: int) -> NeuralNetClassifier:
    return NeuralNetClassifier(
        module,
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=1e-2,
        max_epochs=epochs,
        batch_size=128,  # also skorch's predict_proba batch size, modAL's path
        train_split=None,
        verbose=0,
        classes=np.arange(10),
    )


@dataclass
class Workload:
    """One pool kind: a fitted net, the largest pool and labelled set, a fitted autoencoder."""

    kind: str
    net: NeuralNetClassifier
    pool: np.ndarray
    X_labelled: np.ndarray
    y_labelled: np.ndarray
    autoencoder: Any


def build_workload(kind: str, n_pool: int, n_labelled: int, *, epochs: int = 10,
                   seed: int = 0) -> Workload:
    """Fit the net and the autoencoder (16-d codes) on digits and draw the pool and labelled set."""
    image = kind == "image"
    rng = np.random.default_rng(seed)
    X, y = _digits()
    X_train = X.reshape(-1, 1, 8, 8) if image else X
    net = fit_net(image_module if image else vector_module, X_train, y, epochs=epochs, seed=seed)
    pool, _ = sample_pool(n_pool, rng, image=image)
    X_labelled, y_labelled = sample_pool(n_labelled, rng, image=image)
    autoencoder_class = ConvAutoencoder if image else MLPAutoencoder
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        autoencoder = autoencoder_class(
            latent_dim=16, max_epochs=max(1, epochs // 2), random_state=seed
        ).fit(X_train)
    return Workload(kind, net, pool, X_labelled, y_labelled, autoencoder)


@dataclass
class Case:
    """What a query sees: the net, the pool prefix, the labelled prefix, precomputed extras."""

    net: NeuralNetClassifier
    X_pool: np.ndarray
    X_labelled: np.ndarray
    y_labelled: np.ndarray
    autoencoder: Any
    cached: CachedEmbedding  # the autoencoder, with the pool's and labelled set's codes stored
    outputs: LastLayerOutputs | None = None  # the pool's final-layer outputs, for scoring
    n_instances: int = N_INSTANCES

    def labelled(self) -> dict:
        return {"X_labelled": self.X_labelled, "y_labelled": self.y_labelled}


def make_case(workload: Workload, n_pool: int, n_labelled: int, *, outputs: bool) -> Case:
    """The pool and labelled prefixes, with the autoencoder's codes cached (untimed).

    With ``outputs``, the pool's final-layer outputs are read too, for the
    "floor + scoring" measurements.
    """
    X_pool, X_labelled = workload.pool[:n_pool], workload.X_labelled[:n_labelled]
    cached = CachedEmbedding(workload.autoencoder, random_state=0)
    cached.transform(X_pool)
    cached.transform(X_labelled)
    return Case(workload.net, X_pool, X_labelled, workload.y_labelled[:n_labelled],
                workload.autoencoder, cached,
                last_layer(workload.net).outputs(X_pool) if outputs else None)
