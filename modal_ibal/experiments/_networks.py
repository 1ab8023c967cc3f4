"""Networks for the experiments: MLP, small CNN, CIFAR ResNet-18.

Torch modules whose logits come from a final ``nn.Linear``
(``output``; ``fc`` for the ResNet), the layer whose inputs are the features :math:`f_i` of the
representer theorem (Eq. 1) that the readers hook.
"""

from __future__ import annotations

import numbers

import torch
from torch import nn

from .._utils.validation import check_positive_int

__all__ = ["MLP", "SmallCNN", "cifar_resnet18", "default_device"]


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
    is the ``nn.Linear`` that :mod:`modal_ibal.readers` hooks.

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


def _as_tuple(value, name: str) -> tuple:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return (value,)
    if isinstance(value, (tuple, list)):
        return tuple(value)
    raise ValueError(f"The '{name}' parameter must be a tuple of ints. Got {value!r} instead.")
