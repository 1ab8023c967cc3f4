"""A labelling loop for people: ids instead of positions, labels that arrive late, resumable.

::

    loop = LabellingLoop(frame, id_column="id")          # any strategy, any estimator
    batch = loop.next_batch(20)                          # ids in rank order, with scores
    loop.teach({"a17": "cat", "a03": "dog", "a42": None})  # None: not labelled yet
    loop.save("labelling/")                              # atomic; resume with
    loop = LabellingLoop.resume("labelling/", frame, id_column="id")

After every ``teach`` the model is refitted on all labels and the stopping
criteria of :mod:`modal_ibal.stopping` are updated (:meth:`LabellingLoop.status`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

import modal_ibal  # noqa: F401  (modAL's ActiveLearner on current scikit-learn)

from .._utils.validation import check_positive_int
from ..stopping import (
    CoverageSaturation,
    LabelBudget,
    OverallUncertainty,
    StabilizingPredictions,
    StopSignal,
)
from ..strategies import default_sampling
from ._answers import Answers, read_answers
from ._ids import IdPool
from ._models import tabular_model
from ._state import load_state, save_state

__all__ = ["LabellingLoop"]


class LabellingLoop:
    """Query, teach, stop, save and resume over a pool whose points have ids.

    Parameters
    ----------
    pool : pandas.DataFrame, IdPool or array-like of shape (n_pool, n_features)
        The unlabelled points: a table with ``id_column``, or an array with ``ids``.
    ids : sequence, optional
        The ids of an array pool (unique ints or strings).
    id_column : str, optional
        The id column of a table pool.
    feature_columns : sequence of str, optional
        The features of a table pool (default: its other numeric columns).
    estimator : classifier, optional
        Refitted (a clone) on all labels after every teach; default standardised
        logistic regression (:func:`~modal_ibal.labelling.tabular_model`).
    strategy : callable, default=default_sampling
        Any modAL query strategy ``f(learner, X, n_instances)``; with fewer than two
        classes labelled the model cannot be fitted, and the batch comes from
        ``default_sampling``'s coverage of the inputs (which needs no model) unless
        the strategy takes ``X_labelled`` itself.
    batch_size : int, default=20
        The size of :meth:`next_batch` and of the coverage criterion's batch.
    classes : sequence, optional
        The allowed labels; a label outside them is refused. Default: any label,
        the classes grow as new ones arrive (reported by :meth:`teach`).
    budget : int, optional
        Adds a :class:`~modal_ibal.stopping.LabelBudget`.
    stop_set_size : int, default=1000
        Pool points drawn once (seeded) as the stop set of the prediction criteria.
    random_state : int, default=0
        Seeds the stop set and each query (``random_state + step``).
    settings : dict, optional
        JSON-able extras saved with the state (the command line keeps its options there).
    """

    def __init__(self, pool, ids=None, *, id_column: str | None = None, feature_columns=None,
                 estimator=None, strategy: Callable = default_sampling, batch_size: int = 20,
                 classes: Iterable | None = None, budget: int | None = None,
                 stop_set_size: int = 1000, random_state: int = 0,
                 settings: Mapping[str, Any] | None = None) -> None:
        self.pool = _as_pool(pool, ids, id_column, feature_columns)
        self.estimator = tabular_model() if estimator is None else estimator
        if not callable(strategy):
            raise TypeError(f"The 'strategy' parameter must be a modAL query strategy (a "
                            f"callable). Got {strategy!r} instead.")
        self.strategy = strategy
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.classes = None if classes is None else list(classes)
        self.budget = None if budget is None else check_positive_int(budget, "budget")
        self.stop_set_size = check_positive_int(stop_set_size, "stop_set_size")
        if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)):
            raise TypeError(f"The 'random_state' parameter must be an int. Got {random_state!r}.")
        self.random_state = int(random_state)
        self.settings = dict(settings or {})
        self.labels: dict[Any, Any] = {}  # id -> label, in teaching order
        self.taught_at: dict[Any, int] = {}  # id -> the teach step that brought its label
        self.skipped: dict[Any, int] = {}
        self.batches: list[dict[str, Any]] = []
        self.signals: list[dict[str, Any]] = []
        self.step = 0
        n_stop = min(self.stop_set_size, len(self.pool))
        self._stop_rows = np.sort(np.random.RandomState(self.random_state).choice(
            len(self.pool), n_stop, replace=False))
        self._criteria = self._make_criteria()
        self.model_ = None  # no labels yet

    # ------------------------------------------------------------------ querying
    def next_batch(self, n: int | None = None) -> pd.DataFrame:
        """The next points to label, best first.

        Returns
        -------
        pandas.DataFrame
            Columns ``id``, ``rank`` (1 first), ``score`` (``(n - rank + 1) / n``,
            what a labelling tool sorts by) and ``strategy_score`` (the
            strategy's own score of the pick, NaN when it gives none). Points
            handed out before and still unlabelled are ranked again.
        """
        n = self.batch_size if n is None else check_positive_int(n, "n")
        candidates = self._unlabelled_rows()
        if candidates.size == 0:
            raise ValueError("Every point of the pool is labelled or skipped: nothing to query.")
        n = min(n, candidates.size)
        X_labelled, y_labelled = self.labelled_set()
        strategy, kwargs = self._strategy_call(X_labelled, y_labelled)
        learner = self._learner(strategy, X_labelled, y_labelled)
        result = strategy(learner, self.pool.X[candidates], n_instances=n, **kwargs)
        picks, scores = _query_result(result, n, candidates.size)
        rank = np.arange(1, n + 1)
        batch = pd.DataFrame({"id": self.pool.ids[candidates[picks]], "rank": rank,
                              "score": (n - rank + 1) / n, "strategy_score": scores})
        self.batches.append({"step": self.step, "ids": _plain(batch["id"].tolist())})
        return batch

    # ------------------------------------------------------------------ teaching
    def teach(self, answers, *, id_column: str = "id", label_column: str = "label") -> dict:
        """Add labels: (id, label) pairs, a mapping, or a table; None or '' is "not yet".

        A label equal to :data:`~modal_ibal.labelling.SKIP` marks the point
        skipped (never offered again unless later labelled). Everything is checked
        before anything changes: an id not in the pool, one id given two labels,
        a label that contradicts an earlier one, or a class outside ``classes``
        raise ``ValueError`` and nothing is taught. Giving a label again is a no-op.

        Returns
        -------
        dict
            ``labelled`` (new labels), ``skipped``, ``unchanged`` (given again),
            ``pending`` (not labelled yet), ``new_classes``, and ``signals``: the
            stopping criteria after the refit.
        """
        given = read_answers(answers, self.pool, id_column=id_column, label_column=label_column)
        new, skips, unchanged, new_classes = self._check(given)
        self.step += 1
        for identifier, label in new.items():
            self.labels[identifier] = label
            self.taught_at[identifier] = self.step
            self.skipped.pop(identifier, None)
        for identifier in skips:
            self.skipped[identifier] = self.step
        X_labelled, y_labelled = self.labelled_set()
        self.model_ = _fitted_clone(self.estimator, X_labelled, y_labelled)
        self.signals.append(self._update_criteria(X_labelled, y_labelled))
        return {"labelled": len(new), "skipped": len(skips), "unchanged": unchanged,
                "pending": given.n_pending, "new_classes": new_classes,
                "signals": self.signals[-1]["criteria"]}

    def _check(self, given: Answers) -> tuple[dict, list, int, list]:
        known_classes = set(self.labels.values())
        labels = self._coerce(given.labels)
        conflicts = {identifier: (self.labels[identifier], label)
                     for identifier, label in labels.items()
                     if identifier in self.labels and self.labels[identifier] != label}
        if conflicts:
            shown = ", ".join(f"{key!r}: {old!r} -> {new!r}"
                              for key, (old, new) in list(conflicts.items())[:5])
            raise ValueError(f"{len(conflicts)} points already hold another label ({shown}); "
                             "nothing was taught. Correct a label on purpose with "
                             "LabellingLoop.relabel.")
        if self.classes is not None:
            outside = sorted({repr(label) for label in labels.values()
                              if label not in self.classes})
            if outside:
                raise ValueError(f"Labels {outside} are not among the classes {self.classes}; "
                                 "nothing was taught.")
        new = {key: label for key, label in labels.items() if key not in self.labels}
        skips = [key for key in given.skipped if key not in self.labels]
        new_classes = sorted({label for label in new.values()} - known_classes, key=repr)
        return new, skips, len(labels) - len(new), _plain(new_classes)

    def relabel(self, identifier, label) -> dict:
        """Replace the label of an already labelled point (a correction), then refit."""
        (identifier,) = self.pool.as_pool_ids([identifier], "identifier")
        if identifier not in self.labels:
            raise ValueError(f"Point {identifier!r} holds no label yet; teach it instead.")
        self.labels.pop(identifier)
        self.taught_at.pop(identifier)
        return self.teach({identifier: label})

    def _coerce(self, labels: dict) -> dict:
        """Labels read as text become ints when every label so far (or every class) is an int."""
        reference = self.classes if self.classes is not None else list(self.labels.values())
        if not reference or not all(isinstance(value, (int, np.integer)) for value in reference):
            return labels
        coerced = {}
        for key, label in labels.items():
            try:
                coerced[key] = int(label) if float(label).is_integer() else label
            except (TypeError, ValueError):
                coerced[key] = label
        return coerced

    # ------------------------------------------------------------------ model and signals
    def labelled_set(self, up_to_step: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The labelled rows and their labels, those taught at or before ``up_to_step``
        (default: all); with any text label among them, every label as text."""
        keys = [key for key in self.labels
                if up_to_step is None or self.taught_at[key] <= up_to_step]
        rows = self.pool.positions(keys, "labelled ids")
        labels = [self.labels[key] for key in keys]
        if any(isinstance(label, str) for label in labels):
            return self.pool.X[rows], np.array([str(label) for label in labels], dtype=object)
        return self.pool.X[rows], np.array(labels)

    def fitted_model(self, up_to_step: int | None = None):
        """A clone of the estimator fitted on :meth:`labelled_set` (``up_to_step``), or None
        while fewer than two classes hold labels."""
        return _fitted_clone(self.estimator, *self.labelled_set(up_to_step))

    def _learner(self, strategy, X_labelled, y_labelled):
        from modAL.models import ActiveLearner

        learner = ActiveLearner(estimator=clone(self.estimator), query_strategy=strategy)
        if self.model_ is not None:
            learner.estimator, learner.X_training, learner.y_training = (
                self.model_, X_labelled, y_labelled)
        return learner

    def _strategy_call(self, X_labelled, y_labelled) -> tuple[Callable, dict]:
        """The strategy to call now and its keywords: without a fitted model, a strategy that
        cannot take the labelled set itself gives way to default_sampling's coverage."""
        strategy = self.strategy
        if self.model_ is None and "X_labelled" not in inspect.signature(strategy).parameters:
            strategy = default_sampling
        parameters = inspect.signature(strategy).parameters
        kwargs: dict[str, Any] = {}
        if "random_state" in parameters:
            kwargs["random_state"] = self.random_state + self.step
        if self.model_ is None and self.labels:
            kwargs["X_labelled"], kwargs["y_labelled"] = X_labelled, y_labelled
        return strategy, kwargs

    def _unlabelled_rows(self) -> np.ndarray:
        taken = np.zeros(len(self.pool), dtype=bool)
        done = list(self.labels) + list(self.skipped)
        if done:
            taken[self.pool.positions(done, "labelled ids")] = True
        return np.flatnonzero(~taken)

    def _make_criteria(self) -> dict:
        X_stop = self.pool.X[self._stop_rows]
        criteria = {
            "stabilizing-predictions": StabilizingPredictions(X_stop),
            "overall-uncertainty": OverallUncertainty(X_stop),
            "coverage-saturation": CoverageSaturation(self.batch_size,
                                                      random_state=self.random_state),
        }
        if self.budget is not None:
            criteria["label-budget"] = LabelBudget(self.budget)
        return criteria

    def _update_criteria(self, X_labelled, y_labelled) -> dict:
        model = self.model_ if self.model_ is not None else clone(self.estimator)
        X_unlabelled = self.pool.X[self._unlabelled_rows()]
        values = {}
        for name, criterion in self._criteria.items():
            criterion.update(model, X_unlabelled, X_labelled=X_labelled, y_labelled=y_labelled)
            signal = criterion.history_[-1]
            values[name] = {"value": None if np.isnan(signal.value) else signal.value,
                            "stop": signal.stop}
        return {"step": self.step, "n_labelled": len(self.labels), "criteria": values}

    # ------------------------------------------------------------------ status, saving
    def status(self) -> dict:
        """Labels so far, per class, skipped, batches handed out, and the latest stopping signals."""
        counts = pd.Series(list(self.labels.values()), dtype=object).value_counts()
        latest = self.signals[-1]["criteria"] if self.signals else {}
        return {"n_pool": len(self.pool), "n_labelled": len(self.labels),
                "n_skipped": len(self.skipped), "per_class": _plain(counts.to_dict()),
                "n_classes": int(counts.size), "n_batches": len(self.batches),
                "signals": latest, "stop": [name for name, signal in latest.items()
                                             if signal["stop"]]}

    def save(self, directory) -> None:
        """Save the state to ``directory`` atomically (see :mod:`modal_ibal.labelling._state`)."""
        stabilizing = self._criteria["stabilizing-predictions"]
        previous = stabilizing.predictions_
        save_state(directory, {
            "pool": {"fingerprint": self.pool.fingerprint, "n_pool": len(self.pool)},
            "options": {"batch_size": self.batch_size, "classes": _plain(self.classes),
                        "budget": self.budget, "stop_set_size": self.stop_set_size,
                        "random_state": self.random_state},
            "settings": _plain(self.settings),
            "labels": [[key, label, self.taught_at[key]] for key, label in
                       _plain(list(self.labels.items()))],
            "skipped": _plain([[key, step] for key, step in self.skipped.items()]),
            "batches": self.batches, "signals": _plain(self.signals), "step": self.step,
            "stop_predictions": None if previous is None else _plain(previous.tolist()),
        })

    @classmethod
    def resume(cls, directory, pool, ids=None, **options) -> LabellingLoop:
        """The loop saved in ``directory``, over the same ``pool`` (refused if it differs).

        ``options`` are the constructor's (estimator, strategy, ...); the saved
        settings win for batch size, classes, budget, stop set and seed.

        Raises
        ------
        FileNotFoundError, DamagedStateError
            No state, or a damaged or edited one (nothing is loaded).
        ValueError
            When ``pool`` is not the pool the state was saved from.
        """
        state = load_state(directory)
        options.update(state["options"])
        options["settings"] = {**state["settings"], **options.get("settings", {})}
        loop = cls(pool, ids, **options)
        if state["pool"]["fingerprint"] != loop.pool.fingerprint:
            raise ValueError(f"The state in {directory} was saved from another pool "
                             f"({state['pool']['n_pool']} points, other ids or features); "
                             "give the same pool, or start a new loop in another folder.")
        loop.labels = {key: label for key, label, _ in state["labels"]}
        loop.taught_at = {key: step for key, _, step in state["labels"]}
        loop.skipped = {key: step for key, step in state["skipped"]}
        loop.batches, loop.signals, loop.step = state["batches"], state["signals"], state["step"]
        loop.model_ = loop.fitted_model()
        for name, criterion in loop._criteria.items():
            criterion.history_ = [StopSignal(entry["n_labelled"], np.nan if entry["criteria"][
                name]["value"] is None else entry["criteria"][name]["value"],
                entry["criteria"][name]["stop"]) for entry in loop.signals
                if name in entry["criteria"]]
        if state["stop_predictions"] is not None:
            loop._criteria["stabilizing-predictions"].predictions_ = np.array(
                state["stop_predictions"])
        return loop


def _fitted_clone(estimator, X, y):
    """A clone of ``estimator`` fitted on (X, y), or None below two classes (it cannot fit)."""
    return clone(estimator).fit(X, y) if np.unique(y).size >= 2 else None


def _as_pool(pool, ids, id_column, feature_columns) -> IdPool:
    if isinstance(pool, IdPool):
        return pool
    if isinstance(pool, pd.DataFrame):
        if id_column is None:
            raise ValueError("A table pool needs 'id_column', the column that names its points.")
        return IdPool.from_frame(pool, id_column, feature_columns)
    if ids is None:
        raise ValueError("An array pool needs 'ids', one unique id per row.")
    return IdPool(pool, ids)


def _query_result(result, n: int, n_candidates: int) -> tuple[np.ndarray, np.ndarray]:
    """A strategy's (indices, scores) or indices: checked, scores NaN where it gives none."""
    indices, scores = (result if isinstance(result, tuple) and len(result) == 2
                       else (result, None))
    indices = np.asarray(indices).ravel()
    if (indices.dtype.kind not in "iu" or indices.size != n or np.unique(indices).size != n
            or indices.min() < 0 or indices.max() >= n_candidates):
        raise ValueError(f"The strategy must return {n} distinct indices into the "
                         f"{n_candidates} unlabelled points. Got {indices!r}.")
    scores = np.asarray(scores) if scores is not None else None
    if scores is None or scores.shape != (n,) or scores.dtype.kind not in "iuf":
        scores = np.full(n, np.nan)
    return indices, scores.astype(float)


def _plain(value):
    """numpy scalars inside lists and dicts as Python ones, for JSON."""
    if isinstance(value, dict):
        return {_plain(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
