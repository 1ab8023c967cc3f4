"""The torch modules of the autoencoders.

Two convolutions each way for images (the paper's
network), an MLP for vectors; ``encode`` gives the latent code.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
from torch import nn

__all__ = ["ConvAutoencoderModule", "MLPAutoencoderModule"]


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
