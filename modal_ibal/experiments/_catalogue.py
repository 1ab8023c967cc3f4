"""The built-in experiments: synthetic, digits, Fashion-MNIST, CIFAR-100.

Each with its data loader and model: the paper's synthetic set and its three image sets.
"""

from __future__ import annotations

import functools

import numpy as np

from ._specs import Dataset, ExperimentSpec

__all__ = ["EXPERIMENTS", "get_experiment"]



def _load_synthetic(data_dir: str | None) -> Dataset:
    from ._datasets import make_synthetic

    return Dataset(*make_synthetic(random_state=0))


def _synthetic_model(random_state: int, epochs: int):
    from ._classifier import make_classifier
    from ._networks import MLP

    return make_classifier(
        MLP, module__n_features=2, module__n_classes=3, module__hidden=(64,),
        classes=np.arange(3), max_epochs=epochs, lr=1e-2, batch_size=256,
        random_state=random_state, device="cpu",
    )


def _load_digits(data_dir: str | None) -> Dataset:
    from ._datasets import load_digits_images

    return Dataset(*load_digits_images())


def _grey_image_cnn(random_state: int, epochs: int, *, image_size: int):
    """The small CNN of the 10-class grey-image experiments (digits, Fashion-MNIST)."""
    from ._classifier import make_classifier
    from ._networks import SmallCNN

    return make_classifier(
        SmallCNN, module__in_channels=1, module__n_classes=10, module__image_size=image_size,
        classes=np.arange(10), max_epochs=epochs, lr=3e-3, batch_size=64,
        random_state=random_state,
    )


def _load_fashion_mnist(data_dir: str | None) -> Dataset:
    from ._datasets import FASHION_MNIST_PATH, load_fashion_mnist

    path = FASHION_MNIST_PATH if data_dir is None else data_dir
    X, y = load_fashion_mnist(path, split="train")
    X_test, y_test = load_fashion_mnist(path, split="test")
    return Dataset(X, y, X_test, y_test)


def _load_cifar100(data_dir: str | None) -> Dataset:
    from ._datasets import load_cifar100

    if data_dir is None:
        raise ValueError(
            "The 'cifar100' experiment reads CIFAR-100 from disk: pass --data-dir (data_dir=) "
            "naming the folder that holds cifar-100-python/."
        )
    X, y = load_cifar100(data_dir, split="train")
    X_test, y_test = load_cifar100(data_dir, split="test")
    return Dataset(X, y, X_test, y_test)


def _cifar100_model(random_state: int, epochs: int):
    from ._classifier import make_classifier
    from ._networks import SmallCNN, cifar_resnet18, default_device

    device = default_device()
    if str(device).startswith("cuda"):
        module, module_kwargs = cifar_resnet18, {"module__n_classes": 100}
    else:
        module = SmallCNN
        module_kwargs = {"module__in_channels": 3, "module__n_classes": 100,
                         "module__image_size": 32}
    return make_classifier(
        module, **module_kwargs, classes=np.arange(100), max_epochs=epochs, lr=1e-3,
        batch_size=64, train_split=None, random_state=random_state, device=device,
    )


EXPERIMENTS: dict[str, ExperimentSpec] = {
    spec.name: spec
    for spec in (
        ExperimentSpec(
            name="synthetic",
            description="paper Fig. 1-2: 2-D, 3 classes (2000/500/50), MLP 2-64-3; "
            "10 initial labels, B=10, up to 100",
            load=_load_synthetic,
            model=_synthetic_model,
            n_classes=3,
            n_initial=10,
            batch_size=10,
            n_rounds=9,
            epochs=100,
            test_size=0.3,
        ),
        ExperimentSpec(
            name="digits",
            description="scikit-learn digits (1x8x8), small CNN; 20 initial labels, B=20, up to 200",
            load=_load_digits,
            model=functools.partial(_grey_image_cnn, image_size=8),
            n_classes=10,
            n_initial=20,
            batch_size=20,
            n_rounds=9,
            epochs=50,
            test_size=500,
        ),
        ExperimentSpec(
            name="fashion-mnist",
            description="Fashion-MNIST (1x28x28), 10,000-image pool, 2,000 test images, small CNN; "
            "20 initial labels, B=20, up to 240",
            load=_load_fashion_mnist,
            model=functools.partial(_grey_image_cnn, image_size=28),
            n_classes=10,
            n_initial=20,
            batch_size=20,
            n_rounds=11,
            epochs=50,
            test_size=2000,
            pool_size=10000,
        ),
        ExperimentSpec(
            name="cifar100",
            description="CIFAR-100 from --data-dir, ResNet-18 (3x3 stem) on a GPU, small CNN "
            "on CPU; 50 initial labels, B=50, up to 250",
            load=_load_cifar100,
            model=_cifar100_model,
            n_classes=100,
            n_initial=50,
            batch_size=50,
            n_rounds=4,
            epochs=50,
            test_size=None,
        ),
    )
}


def get_experiment(name: str) -> ExperimentSpec:
    """The built-in experiment called ``name``.

    Raises
    ------
    ValueError
        When there is none; the message lists the names.
    """
    try:
        return EXPERIMENTS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"The experiment name must be one of {list(EXPERIMENTS)}. Got {name!r} instead."
        ) from None
