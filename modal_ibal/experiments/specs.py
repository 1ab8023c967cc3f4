"""Experiment specifications: data, split, model, label budget and default strategies.

An :class:`ExperimentSpec` says everything about an experiment except which
strategies and seeds to run: where the data come from, how the held-out test
set and the pool are drawn, which model is trained, how many labels the
learner starts with, how many it buys per round and for how many rounds.
:data:`EXPERIMENTS` holds the four built-in ones; :meth:`ExperimentSpec.with_overrides`
changes the sizes (the command line's ``--rounds``, ``--initial``, ...).

For experiment seed ``k`` (see :mod:`modal_ibal.experiments.seeds`):

- the test set is a stratified, seeded draw (``test_size``) from the data, or
  from the data set's official test split where it has one; the pool is the
  rest, or a stratified seeded subset of ``pool_size`` points;
- the initial labelled set is a uniform random draw of ``n_initial`` pool
  points, as in the paper; every strategy starts from the same one at a given
  seed, so strategies are compared in pairs;
- the model is built with a ``random_state`` derived from ``k``; every refit
  starts from the same initialisation.

Stratification is skipped (the draw is uniform) where a class has a single
point or the draw is smaller than the number of classes.
"""

from __future__ import annotations

import dataclasses
import functools
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split

from .seeds import INITIAL, MODEL, SPLIT, derive_seed

__all__ = [
    "ALL_STRATEGIES",
    "EXPERIMENTS",
    "Dataset",
    "ExperimentSpec",
    "Split",
    "get_experiment",
]

ALL_STRATEGIES = (
    "random",
    "entropy",
    "margin",
    "ibal-class",
    "ibal-pseudo",
    "ibal-target",
    "ibal-agreement",
    "ibal-nonlinear",
    "ibal-finetuned",
    "ibal-d",
    "entropy-d",
    "coreset",
    "badge",
    "typiclust",
    "probcover",
    "herding",
    "default",
    "ibal-cluster",
)


@dataclass(frozen=True)
class Dataset:
    """Loaded data: all samples, and the official test split where the data set has one.

    Attributes
    ----------
    X : ndarray of shape (n_samples, ...)
    y : ndarray of shape (n_samples,)
    X_test : ndarray of shape (n_test, ...) or None
    y_test : ndarray of shape (n_test,) or None
    """

    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None


@dataclass(frozen=True)
class Split:
    """One seed's pool, held-out test set and initial labelled set.

    Attributes
    ----------
    X_pool : ndarray of shape (n_pool, ...)
    y_pool : ndarray of shape (n_pool,)
        The oracle's labels, revealed when a point is queried.
    X_test : ndarray of shape (n_test, ...)
    y_test : ndarray of shape (n_test,)
    initial : ndarray of shape (n_initial,)
        Pool indices of the initial labelled set.
    """

    X_pool: np.ndarray
    y_pool: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    initial: np.ndarray


@dataclass(frozen=True)
class ExperimentSpec:
    """What an experiment runs on and how many labels it buys.

    Attributes
    ----------
    name : str
    description : str
    load : callable
        ``load(data_dir) -> Dataset``; ``data_dir`` may be None.
    model : callable
        ``model(random_state, epochs) -> estimator``, a fresh unfitted classifier.
    n_classes : int
        Classes are ``0 .. n_classes - 1`` whether or not the labelled set has them all.
    n_initial : int
        Size of the initial labelled set.
    batch_size : int
        Labels bought per round, :math:`B`.
    n_rounds : int
        Query rounds after the initial fit; the last model has
        ``n_initial + n_rounds * batch_size`` labels.
    epochs : int
        Training epochs per fit (the model is refit from scratch every round).
    test_size : int or float or None
        Held-out test points (an int), a fraction (a float), or None for the whole
        official test split.
    pool_size : int or None
        Pool points kept (a stratified subset), or None for all the rest.
    strategies : tuple of str
        Strategies run when none are named.
    data_dir : str or None
        Passed to ``load``.
    threads : int or None
        torch's intra-op threads while the experiment runs (restored afterwards), or
        None to leave torch's setting. Small nets are fastest on one thread, and
        much slower on two when other processes compete for the cores.
    """

    name: str
    description: str
    load: Callable[[str | None], Dataset]
    model: Callable[[int, int], Any]
    n_classes: int
    n_initial: int
    batch_size: int
    n_rounds: int
    epochs: int
    test_size: int | float | None
    pool_size: int | None = None
    strategies: tuple[str, ...] = ALL_STRATEGIES
    data_dir: str | None = None
    threads: int | None = 1

    @property
    def budgets(self) -> np.ndarray:
        """ndarray of shape (n_rounds + 1,): labelled-set size after each round, round 0 first."""
        return self.n_initial + self.batch_size * np.arange(self.n_rounds + 1)

    @property
    def classes(self) -> np.ndarray:
        """ndarray of shape (n_classes,): the class labels ``0 .. n_classes - 1``."""
        return np.arange(self.n_classes)

    def protocol(self) -> dict[str, Any]:
        """The settings that change a run's numbers, for checking that a resumed run matches."""
        return {
            "experiment": self.name,
            "n_initial": self.n_initial,
            "batch_size": self.batch_size,
            "n_rounds": self.n_rounds,
            "epochs": self.epochs,
            "test_size": self.test_size,
            "pool_size": self.pool_size,
            "threads": self.threads,
        }

    def with_overrides(
        self,
        *,
        rounds: int | None = None,
        initial: int | None = None,
        batch: int | None = None,
        epochs: int | None = None,
        pool_size: int | None = None,
        test_size: int | float | None = None,
        data_dir: str | None = None,
        threads: int | None = None,
    ) -> ExperimentSpec:
        """A copy with the given sizes changed; None keeps the spec's value.

        Raises
        ------
        ValueError
            When a size is not a positive int (``rounds`` may be 0).
        """
        changes = {}
        for name, field_name, value, minimum in (
            ("rounds", "n_rounds", rounds, 0),
            ("initial", "n_initial", initial, 1),
            ("batch", "batch_size", batch, 1),
            ("epochs", "epochs", epochs, 1),
            ("pool_size", "pool_size", pool_size, 1),
            ("threads", "threads", threads, 1),
        ):
            if value is not None:
                changes[field_name] = _check_int(value, name, minimum)
        if test_size is not None:
            changes["test_size"] = _check_test_size(test_size)
        if data_dir is not None:
            changes["data_dir"] = str(data_dir)
        return dataclasses.replace(self, **changes)

    def load_data(self) -> Dataset:
        """Load the data set (``self.load(self.data_dir)``)."""
        return self.load(self.data_dir)

    def split(self, data: Dataset, seed: int) -> Split:
        """Seed ``seed``'s pool, test set and initial labelled set.

        Raises
        ------
        ValueError
            When the pool is too small for the label budget.
        """
        split_seed = derive_seed(seed, SPLIT)
        if data.X_test is None:
            pool, test = _draw(data.y, self.test_size, split_seed, keep_rest=True)
            X_rest, y_rest = data.X[pool], data.y[pool]
            X_test, y_test = data.X[test], data.y[test]
        else:
            X_rest, y_rest = data.X, data.y
            test = _draw(data.y_test, self.test_size, split_seed)
            X_test, y_test = data.X_test[test], data.y_test[test]
        pool = _draw(y_rest, self.pool_size, derive_seed(seed, SPLIT, 1))
        X_pool, y_pool = X_rest[pool], y_rest[pool]
        final_budget = int(self.budgets[-1])
        if final_budget > len(y_pool):
            raise ValueError(
                f"The '{self.name}' experiment buys up to {final_budget} labels "
                f"({self.n_initial} initial + {self.n_rounds} rounds of {self.batch_size}) but "
                f"its pool holds {len(y_pool)} points. Lower --rounds, --initial or --batch, or "
                "raise --pool-size."
            )
        rng = np.random.default_rng(derive_seed(seed, INITIAL))
        initial = np.sort(rng.choice(len(y_pool), size=self.n_initial, replace=False))
        return Split(X_pool, y_pool, X_test, y_test, initial)

    def build_model(self, seed: int):
        """A fresh, unfitted classifier seeded from experiment seed ``seed``."""
        return self.model(derive_seed(seed, MODEL), self.epochs)


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(
            f"The '{name}' parameter must be an int >= {minimum}. Got {value!r} instead."
        )
    return int(value)


def _check_test_size(value: Any) -> int | float:
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, numbers.Integral)):
        if 0 < value < 1:
            return float(value)
    elif isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1:
        return int(value)
    raise ValueError(
        "The 'test_size' parameter must be an int >= 1 or a float in (0, 1). "
        f"Got {value!r} instead."
    )


def _draw(y: np.ndarray, size: int | float | None, random_state: int, *, keep_rest: bool = False):
    """Sorted indices of a seeded (stratified where possible) draw of ``size`` points from ``y``.

    With ``keep_rest=True``, return ``(rest, drawn)``, both sorted.
    """
    indices = np.arange(len(y))
    n_draw = len(y) if size is None else (size if isinstance(size, int) else round(size * len(y)))
    if n_draw >= len(y):
        if keep_rest:
            raise ValueError(
                f"The 'test_size' parameter ({size}) leaves no pool: the data hold {len(y)} points."
            )
        return indices
    _, counts = np.unique(y, return_counts=True)
    stratify = (
        y if counts.min() >= 2 and min(n_draw, len(y) - n_draw) >= len(counts) else None
    )
    rest, drawn = train_test_split(
        indices, test_size=n_draw, random_state=random_state, stratify=stratify
    )
    drawn = np.sort(drawn)
    return (np.sort(rest), drawn) if keep_rest else drawn


# The built-in experiments. Loaders and models import their modules when called.


def _load_synthetic(data_dir: str | None) -> Dataset:
    from ..datasets import make_synthetic

    return Dataset(*make_synthetic(random_state=0))


def _synthetic_model(random_state: int, epochs: int):
    from ..models import MLP, make_classifier

    return make_classifier(
        MLP, module__n_features=2, module__n_classes=3, module__hidden=(64,),
        classes=np.arange(3), max_epochs=epochs, lr=1e-2, batch_size=256,
        random_state=random_state, device="cpu",
    )


def _load_digits(data_dir: str | None) -> Dataset:
    from ..datasets import load_digits_images

    return Dataset(*load_digits_images())


def _grey_image_cnn(random_state: int, epochs: int, *, image_size: int):
    """The small CNN of the 10-class grey-image experiments (digits, Fashion-MNIST)."""
    from ..models import SmallCNN, make_classifier

    return make_classifier(
        SmallCNN, module__in_channels=1, module__n_classes=10, module__image_size=image_size,
        classes=np.arange(10), max_epochs=epochs, lr=3e-3, batch_size=64,
        random_state=random_state,
    )


def _load_fashion_mnist(data_dir: str | None) -> Dataset:
    from ..datasets import FASHION_MNIST_PATH, load_fashion_mnist

    path = FASHION_MNIST_PATH if data_dir is None else data_dir
    X, y = load_fashion_mnist(path, split="train")
    X_test, y_test = load_fashion_mnist(path, split="test")
    return Dataset(X, y, X_test, y_test)


def _load_cifar100(data_dir: str | None) -> Dataset:
    from ..datasets import load_cifar100

    if data_dir is None:
        raise ValueError(
            "The 'cifar100' experiment reads CIFAR-100 from disk: pass --data-dir (data_dir=) "
            "naming the folder that holds cifar-100-python/."
        )
    X, y = load_cifar100(data_dir, split="train")
    X_test, y_test = load_cifar100(data_dir, split="test")
    return Dataset(X, y, X_test, y_test)


def _cifar100_model(random_state: int, epochs: int):
    from ..models import SmallCNN, cifar_resnet18, default_device, make_classifier

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
