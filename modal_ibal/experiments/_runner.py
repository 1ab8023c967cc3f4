"""Run strategies x seeds x rounds on a modAL ``ActiveLearner`` and keep every finished run.

For each seed (outer loop) and strategy (inner loop), :func:`run_one` builds a
fresh model with the seed's ``random_state``, fits it on the seed's initial
labelled set inside an ``ActiveLearner``, then for ``n_rounds`` rounds queries
``batch_size`` points from what is left of the pool through
``learner.query(...)``, reveals their labels and refits (``learner.teach``).
After the initial fit and after every round it scores the held-out test set:
accuracy, balanced accuracy (the mean recall over the classes in the test set,
scikit-learn's ``balanced_accuracy_score``) and macro-F1; beside them it records
``classes_found``, the share of the experiment's classes that hold at least one
label (class discovery: a rare class never labelled caps balanced accuracy long
before accuracy shows it). Every strategy gets a
``random_state`` per (seed, round) from :func:`modal_ibal.experiments._seeds.derive_seed`
(the strategy contract; deterministic strategies ignore it).

Crash safety: a finished (strategy, seed) run is written at once to
``<out>/runs/<strategy>__seed<k>.csv``, and every output through
:func:`modal_ibal.experiments._files.open_atomic` (a temporary file and
``os.replace``), so a failure never leaves half a file or destroys an earlier
one. ``resume=True`` keeps a run only when its file passes
:func:`modal_ibal.experiments._files.read_run` (the rows the protocol implies,
nothing else); a damaged file is named in a
:class:`~modal_ibal.experiments._files.DamagedRunWarning` and run again.
``<out>/results.csv`` (scores) and ``<out>/timings.csv`` (``fit_seconds``,
``query_seconds``) are always assembled from checked run files in one
canonical order, so an interrupted and resumed experiment writes the same
``results.csv``, byte for byte, as an uninterrupted one. Timings vary from run
to run and are kept out of ``results.csv`` for that reason.

Reproducibility: the same seed gives the same ``results.csv`` on CPU (checked by
the tests); on a GPU, cuDNN may pick non-deterministic kernels, so expect small
differences there.

``<out>/protocol.json`` records the settings that change the numbers (sizes,
epochs); resuming, or writing into a folder whose runs were made, with other
settings is refused rather than mixed.

Interrupts: skorch's ``fit`` swallows ``KeyboardInterrupt`` and modAL's ``query``
calls a strategy again after any exception (a failing one runs twice), so
:func:`run_one` handles SIGINT itself: Ctrl-C stops it, writing no run file.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, recall_score

import modal_ibal  # noqa: F401  (applies the modAL compatibility shim before modAL is used)

from ..strategies import resolve_strategies
from ._assembly import assemble, check_protocol, complete_runs, to_csv
from ._files import (
    COLUMNS,
    check_folder,
    run_file,
    write_atomic,
)
from ._interrupts import stop_on_interrupt, unless_interrupted
from ._seeds import QUERY, derive_seed
from ._specs import Dataset, ExperimentSpec, Split

__all__ = [
    "ExperimentResult",
    "RunFailedError",
    "run_experiment",
    "run_one",
    "score_predictions",
]


class RunFailedError(RuntimeError):
    """A (strategy, seed) run failed; finished runs stay on disk.

    Attributes
    ----------
    strategy : str
    seed : int
    round : int
        The round in progress (0 is the initial fit).
    stage : str
        ``"query"``, ``"fit"`` or ``"evaluate"``.
    """

    def __init__(self, strategy: str, seed: int, round_: int, stage: str, cause: BaseException):
        self.strategy, self.seed, self.round, self.stage = strategy, seed, round_, stage
        super().__init__(
            f"Strategy '{strategy}' failed at seed {seed}, round {round_} ({stage}): "
            f"{type(cause).__name__}: {cause}"
        )


@dataclass(frozen=True)
class ExperimentResult:
    """What :func:`run_experiment` wrote.

    Attributes
    ----------
    results : pandas.DataFrame
        One row per (strategy, seed, round, score metric), columns :data:`COLUMNS`.
    timings : pandas.DataFrame
        The same layout for :data:`TIMING_METRICS`.
    out : Path
        The output folder; ``results.csv``, ``timings.csv`` and ``runs/`` are in it.
    n_resumed : int
        Runs read from disk instead of computed.
    """

    results: pd.DataFrame
    timings: pd.DataFrame
    out: Path
    n_resumed: int


def score_predictions(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Accuracy, balanced accuracy and macro-F1 of predictions on the test set.

    Parameters
    ----------
    y_true, y_pred : ndarray of shape (n_test,)

    Returns
    -------
    dict
        ``{"accuracy", "balanced_accuracy", "macro_f1"}`` -> float in [0, 1].
        Balanced accuracy is the mean recall over the classes present in
        ``y_true`` (equal to ``sklearn.metrics.balanced_accuracy_score``, without
        its warning when ``y_pred`` holds other classes); macro-F1 averages over
        the classes in ``y_true`` or ``y_pred``, a class never predicted scoring 0.
    """
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(
            recall_score(y_true, y_pred, labels=np.unique(y_true), average="macro",
                         zero_division=0)
        ),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
    }


def run_one(
    spec: ExperimentSpec,
    split: Split,
    strategy_name: str,
    strategy: Callable,
    seed: int,
    *,
    on_round: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """One active-learning run: a fresh model, the seed's initial labels, ``spec.n_rounds`` queries.

    Parameters
    ----------
    spec : ExperimentSpec
    split : Split
        The seed's pool, test set and initial labelled set (``spec.split(data, seed)``).
    strategy_name : str
        Its name in the output.
    strategy : callable
        A modAL strategy ``f(learner, X_pool, n_instances=B, **kwargs) -> (indices, scores)``.
    seed : int
    on_round : callable, optional
        Called with the round number after each round (progress display).

    Returns
    -------
    pandas.DataFrame
        Rows with columns :data:`COLUMNS`: the score metrics and the share of
        classes found after every round, and the fit and query times.

    Raises
    ------
    RunFailedError
        When the strategy, the fit or the evaluation raises, naming the strategy,
        seed, round and stage, chained to the original exception.
    KeyboardInterrupt
        On SIGINT (Ctrl-C), also where a fit or a query swallows it.
    """
    from modAL.models import ActiveLearner

    labelled = np.zeros(len(split.y_pool), dtype=bool)
    labelled[split.initial] = True
    rows: list[tuple] = []

    def record(round_: int, metric: str, value: float) -> None:
        rows.append((spec.name, strategy_name, seed, round_, int(labelled.sum()), metric,
                     float(value)))

    round_, stage = 0, "fit"
    with stop_on_interrupt() as check:
        try:
            start = time.perf_counter()
            learner = ActiveLearner(
                estimator=spec.build_model(seed),
                query_strategy=functools.partial(unless_interrupted, check, strategy),
                X_training=split.X_pool[split.initial], y_training=split.y_pool[split.initial],
            )
            check()
            record(0, "fit_seconds", time.perf_counter() - start)
            for round_ in range(spec.n_rounds + 1):
                if round_ > 0:
                    stage = "query"
                    candidates = np.flatnonzero(~labelled)
                    start = time.perf_counter()
                    indices, _ = learner.query(
                        split.X_pool[candidates], n_instances=spec.batch_size,
                        random_state=derive_seed(seed, QUERY, round_))
                    query_seconds = time.perf_counter() - start
                    check()
                    chosen = candidates[_check_query(indices, len(candidates), spec.batch_size)]
                    labelled[chosen] = True
                    stage = "fit"
                    start = time.perf_counter()
                    learner.teach(split.X_pool[chosen], split.y_pool[chosen])
                    check()
                    record(round_, "fit_seconds", time.perf_counter() - start)
                    record(round_, "query_seconds", query_seconds)
                stage = "evaluate"
                predictions = learner.predict(split.X_test)
                for metric, value in score_predictions(split.y_test, predictions).items():
                    record(round_, metric, value)
                found = np.unique(split.y_pool[labelled]).size
                record(round_, "classes_found", found / spec.n_classes)
                if on_round is not None:
                    on_round(round_)
        except Exception as exc:
            check()  # a step that swallowed an interrupt may fail because of it
            raise RunFailedError(strategy_name, seed, round_, stage, exc) from exc
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _check_query(query_indices, n_candidates: int, batch_size: int) -> np.ndarray:
    indices = np.asarray(query_indices)
    if (
        indices.ndim != 1
        or indices.dtype.kind not in "iu"
        or len(np.unique(indices)) != batch_size
        or len(indices) != batch_size
        or indices.min() < 0
        or indices.max() >= n_candidates
    ):
        raise ValueError(
            f"The strategy must return {batch_size} distinct integer pool indices in "
            f"[0, {n_candidates}). Got {indices!r} instead."
        )
    return indices


def run_experiment(
    spec: ExperimentSpec,
    strategies: Iterable[str] | Mapping[str, Callable] | None = None,
    seeds: int | Iterable[int] = 5,
    out: str | os.PathLike = "results",
    *,
    resume: bool = False,
    progress: bool = True,
    data: Dataset | None = None,
) -> ExperimentResult:
    """Run every (strategy, seed) pair, save each as it finishes, and assemble the results.

    Parameters
    ----------
    spec : ExperimentSpec
    strategies : iterable of str, or mapping of name to strategy, optional
        Registered names (:mod:`modal_ibal.strategies._registry`), or ``{name:
        callable}`` for strategies of your own; default ``spec.strategies``.
    seeds : int or iterable of int, default=5
        An int ``k`` means seeds ``0 .. k-1``.
    out : path, default="results"
        Output folder (created).
    resume : bool, default=False
        Keep the runs whose file in ``<out>/runs`` is complete (see
        :func:`modal_ibal.experiments._files.read_run`); run the others, warning
        with a :class:`~modal_ibal.experiments._files.DamagedRunWarning` for each
        damaged file.
    progress : bool, default=True
        Show a tqdm progress bar over (strategy, seed) runs on stderr.
    data : Dataset, optional
        The already-loaded data set (``spec.load_data()``), to avoid loading it again.

    Returns
    -------
    ExperimentResult

    Raises
    ------
    RunFailedError
        When a run fails; the runs finished before it are on disk, and
        ``resume=True`` continues from them.
    ValueError
        When ``out`` is not a folder that can be written, or holds runs made with
        other settings (see ``protocol.json``).
    DamagedFileError
        When ``<out>/protocol.json`` is damaged.
    """
    if progress:
        from tqdm.auto import tqdm
    else:  # no notebook-widget lookup (and its warning) for a bar that is never shown
        from tqdm import tqdm

    if strategies is None:
        strategies = spec.strategies
    strategies = (
        dict(strategies) if isinstance(strategies, Mapping) else resolve_strategies(strategies)
    )
    seeds = _check_seeds(seeds)
    out = check_folder(out)
    (out / "runs").mkdir(exist_ok=True)
    protocol = check_protocol(out, spec, resume)

    keys = [(name, seed) for seed in seeds for name in strategies]
    done = complete_runs(out, keys, protocol) if resume else set()
    if data is None and len(done) < len(keys):
        data = spec.load_data()
    splits: dict[int, Split] = {}
    with _torch_threads(spec.threads), tqdm(
        total=len(keys), initial=len(done), desc=spec.name, unit="run", disable=not progress,
        dynamic_ncols=True,
    ) as bar:
        for name, seed in keys:
            if (name, seed) in done:
                continue
            if seed not in splits:
                splits = {seed: spec.split(data, seed)}
            bar.set_postfix_str(f"{name}, seed {seed}")
            frame = run_one(
                spec, splits[seed], name, strategies[name], seed,
                on_round=lambda r, name=name, seed=seed: bar.set_postfix_str(
                    f"{name}, seed {seed}, round {r}/{spec.n_rounds}"
                ),
            )
            write_atomic(run_file(out, name, seed), to_csv(frame))
            bar.update(1)
    results, timings = assemble(out, keys, protocol)
    return ExperimentResult(results, timings, out, len(done))


@contextlib.contextmanager
def _torch_threads(threads: int | None):
    """Set torch's intra-op threads for the block and restore the caller's setting."""
    import torch

    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _check_seeds(seeds: int | Iterable[int]) -> list[int]:
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValueError(f"The 'seeds' parameter must be >= 1. Got {seeds} instead.")
        return list(range(int(seeds)))
    values = [int(seed) for seed in seeds]
    if not values or min(values) < 0 or len(set(values)) != len(values):
        raise ValueError(
            f"The 'seeds' parameter must be a count or distinct non-negative ints. "
            f"Got {values!r} instead."
        )
    return values
