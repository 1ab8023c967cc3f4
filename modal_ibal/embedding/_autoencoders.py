"""Autoencoders whose encoder gives IBAL-D's latent space (paper Sect. 2).

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

import numpy as np
import torch
from sklearn.utils.validation import check_array, validate_data

from ._autoencoder_base import (
    ATTRIBUTES_DOC,
    PARAMETERS_DOC,
    BaseAutoencoder,
    as_float32,
    check_widths,
)
from ._autoencoder_modules import ConvAutoencoderModule, MLPAutoencoderModule

__all__ = ["ConvAutoencoder", "MLPAutoencoder"]


class ConvAutoencoder(BaseAutoencoder):
    __doc__ = f"""Convolutional autoencoder for images, a scikit-learn transformer.

    The encoder is two 3x3 convolutions with stride 2 (ReLU) and a linear
    bottleneck; the decoder mirrors it with two transposed convolutions and
    crops to the input size, so any small image (1x8x8 digits, 1x28x28,
    3x32x32) works.

    Parameters
    ----------
{PARAMETERS_DOC.strip(chr(10))}
    channels : tuple of 2 ints, default=(16, 32)
        Output channels of the two convolutions.
    image_shape : tuple of 3 ints or None, default=None
        (channels, height, width). When set, 2-D inputs with
        ``channels * height * width`` columns are read as flattened images;
        4-D inputs must then have this shape.

    Attributes
    ----------
{ATTRIBUTES_DOC.strip(chr(10))}
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
        check_widths(self.channels, "channels", "ConvAutoencoder", length=2)
        if self.image_shape is not None:
            check_widths(self.image_shape, "image_shape", "ConvAutoencoder", length=3)

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
        return as_float32(X)


class MLPAutoencoder(BaseAutoencoder):
    __doc__ = f"""Fully connected autoencoder for vectors, a scikit-learn transformer.

    Parameters
    ----------
{PARAMETERS_DOC.strip(chr(10))}
    hidden_units : tuple of int, default=(128,)
        Widths of the encoder's ReLU hidden layers; the decoder mirrors them.

    Attributes
    ----------
{ATTRIBUTES_DOC.strip(chr(10))}
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
        check_widths(self.hidden_units, "hidden_units", "MLPAutoencoder")

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
        return as_float32(X)
