"""Experiment specifications: data, split, model, label budget and default strategies.

An :class:`ExperimentSpec` says everything about an experiment except which
strategies and seeds to run: where the data come from, how the held-out test
set and the pool are drawn, which model is trained, how many labels the
learner starts with, how many it buys per round and for how many rounds.
:data:`EXPERIMENTS` holds the four built-in ones; :meth:`ExperimentSpec.with_overrides`
changes the sizes (the command line's ``--rounds``, ``--initial``, ...).

For experiment seed ``k`` (see :mod:`modal_ibal.experiments._seeds`):

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
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split

from ._seeds import INITIAL, MODEL, SPLIT, derive_seed

__all__ = ["Dataset", "ExperimentSpec", "Split"]

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
