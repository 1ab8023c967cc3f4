r"""The project's strategies side by side with scikit-activeml's, on the project's runner.

For every data set, :func:`modal_ibal.experiments.run_experiment` runs, on the
same splits, nets, modAL loop and seeds:

- registered strategies: ``random``, ``margin``, ``typiclust``, ``herding``,
  ``uherding`` and ``ibal-d`` (defaults: the model's own features, gamma=1);
- ``ibal-d-paper``: IBAL-D configured as the paper does: :math:`D` in the
  latent space of an autoencoder (:class:`modal_ibal.MLPAutoencoder` for
  vectors, :class:`modal_ibal.ConvAutoencoder` for images) fitted once on the
  seed's pool and wrapped in :class:`modal_ibal.CachedEmbedding`, with
  :math:`\gamma` chosen by :func:`modal_ibal.tune_gamma` once per data set on
  seed 0's pool (a validation split of it; saved in ``gamma.json``);
- scikit-activeml's MaxHerding, TypiClust and ProbCover (``skal-maxherding``,
  ``skal-typiclust``, ``skal-probcover``) through :func:`skactiveml_strategy`,
  a thin adapter to modAL's strategy contract on the flattened inputs.

It writes ``<out>/<dataset>/`` (the runner's ``results.csv``, ``timings.csv``,
``runs/``, ``summary.md``, figures) and ``<out>/peers.md``: per data set the
AULC of accuracy, paired AULC differences against ``random`` and against
``skal-maxherding`` (mean ± standard error over seeds) and the median query
time per round with its ratio to ``skal-maxherding``'s. Every run is saved as
it finishes and kept on the next call (the runner's ``resume=True``), so an
interrupted benchmark continues where it stopped; ``--stop-at HH:MM`` (UTC)
starts no new seed after that time, ``--report-only`` runs nothing, and the
report covers the seeds that every strategy finished.

scikit-activeml is a benchmark-only dependency (the ``bench`` extra)::

    python -m benchmarks.peers --datasets synthetic,digits,breast-cancer,fashion-mnist \
        --seeds 10 --out results/peers
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from modal_ibal import (
    CachedEmbedding,
    ConvAutoencoder,
    MLPAutoencoder,
    herding_sampling,
    ibal_distance_sampling,
    tune_gamma,
)
from modal_ibal.experiments._assembly import assemble
from modal_ibal.experiments._catalogue import get_experiment
from modal_ibal.experiments._figures import write_figures
from modal_ibal.experiments._files import DamagedFileError, read_protocol, read_run
from modal_ibal.experiments._results import aulc_table, paired_differences, write_summary
from modal_ibal.experiments._runner import run_experiment, run_file
from modal_ibal.experiments._seeds import MODEL, derive_seed
from modal_ibal.experiments._specs import Dataset, ExperimentSpec
from modal_ibal.readers._view import resolve_labelled_set
from modal_ibal.strategies._registry import resolve_strategies

from .shuttle import SHUTTLE_CLASSES, SHUTTLE_PATH, load_shuttle, shuttle_subsample

__all__ = [
    "DATASETS",
    "FASHION_MNIST_OVERRIDES",
    "GAMMAS",
    "PAPER_IBAL_D",
    "PEER_REFERENCE",
    "PROJECT_STRATEGIES",
    "RECIPE_STRATEGIES",
    "SKACTIVEML_STRATEGIES",
    "breast_cancer_spec",
    "fit_autoencoder",
    "main",
    "peer_table",
    "recipe_table",
    "run_peers",
    "shuttle_spec",
    "skactiveml_strategies",
    "skactiveml_strategy",
    "tune_paper_gamma",
]

PROJECT_STRATEGIES = ("random", "margin", "typiclust", "herding", "uherding", "ibal-d")
PAPER_IBAL_D = "ibal-d-paper"
SKACTIVEML_STRATEGIES = ("skal-maxherding", "skal-typiclust", "skal-probcover")
PEER_REFERENCE = "skal-maxherding"
RECIPE_REFERENCE = "uherding"
RECIPE_STRATEGIES = {  # UHerding's calibration recipe, piece by piece, on the default
    "uherding-t": functools.partial(herding_sampling, weights="margin",
                                    temperature="calibrated"),
    "uherding-w": functools.partial(herding_sampling, weights="margin", bandwidth="labelled"),
    "uherding-tw": functools.partial(herding_sampling, weights="margin",
                                     temperature="calibrated", bandwidth="labelled"),
}
GAMMAS = (0.0, 0.3, 1.0, 3.0)
DATASETS = ("synthetic", "breast-cancer", "digits", "fashion-mnist", "shuttle")
SHUTTLE_SAMPLES = 4000

_AUTOENCODER_STREAM = 1  # key under the MODEL stream: the autoencoder's seed, apart from the net's


def skactiveml_strategy(query_class: type, **options) -> Callable:
    """A scikit-activeml pool strategy on modAL's contract ``f(learner, X_pool, n_instances)``.

    Parameters
    ----------
    query_class : type
        A ``skactiveml.pool`` strategy whose ``query(X, y, batch_size=...)``
        returns indices into ``X`` (e.g. ``MaxHerding``, ``TypiClust``, ``ProbCover``).
    **options
        Passed to ``query_class`` (``random_state`` excepted: it comes per query).

    Returns
    -------
    callable
        ``strategy(classifier, X_pool, n_instances=1, *, random_state=None,
        X_labelled=None, y_labelled=None) -> (indices, scores)``: the labelled
        set (from the learner, or given) and the pool, flattened per row, are
        stacked into one ``X`` of shape (n_labelled + n_pool, n_features) with
        ``y`` holding the labels and ``MISSING_LABEL`` (NaN) for the pool; a
        fresh ``query_class(random_state=random_state, **options)`` queries
        ``n_instances`` of them, and the indices are shifted back into the pool.
        ``scores`` are scikit-activeml's utilities of the picks.
    """
    if "random_state" in options:
        raise ValueError(
            "The 'random_state' option of skactiveml_strategy is set per query from the "
            "strategy's own random_state argument; do not bind it. Got "
            f"random_state={options['random_state']!r}."
        )

    def strategy(classifier, X_pool, n_instances: int = 1, *, random_state=None,
                 X_labelled=None, y_labelled=None):
        from skactiveml.utils import MISSING_LABEL

        _, X_labelled, y_labelled = resolve_labelled_set(classifier, X_labelled, y_labelled)
        pool = np.asarray(X_pool)
        labelled = np.asarray(X_labelled)
        n_labelled = len(labelled)
        X = np.concatenate([labelled.reshape(n_labelled, -1),
                            pool.reshape(len(pool), -1)]).astype(np.float64)  # [n + N, d]
        y = np.concatenate([np.asarray(y_labelled, dtype=np.float64),
                            np.full(len(pool), MISSING_LABEL)])  # [n + N]
        query = query_class(random_state=random_state, **options)
        picks, utilities = query.query(X, y, batch_size=n_instances, return_utilities=True)
        picks = np.asarray(picks, dtype=np.int64)  # [B], indices into X
        scores = utilities[np.arange(len(picks)), picks]  # [B]
        return picks - n_labelled, scores

    strategy.__name__ = strategy.__qualname__ = f"skactiveml_{query_class.__name__}"
    return strategy


def skactiveml_strategies(n_classes: int) -> dict[str, Callable]:
    """``{name: strategy}`` for scikit-activeml's MaxHerding, TypiClust and ProbCover (defaults).

    ProbCover is told ``n_classes`` (it sets the k-means of its radius search by
    it); everything else is scikit-activeml 1.0.1's default.
    """
    from skactiveml.pool import MaxHerding, ProbCover, TypiClust

    return {
        "skal-maxherding": skactiveml_strategy(MaxHerding),
        "skal-typiclust": skactiveml_strategy(TypiClust),
        "skal-probcover": skactiveml_strategy(ProbCover, n_classes=n_classes),
    }


def _load_breast_cancer(data_dir: str | None) -> Dataset:
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)  # [569, 30], standardised over all samples
    return Dataset(X.astype(np.float32), y.astype(np.int64))


def _breast_cancer_model(random_state: int, epochs: int):
    from modal_ibal.experiments._classifier import make_classifier
    from modal_ibal.experiments._networks import MLP

    return make_classifier(
        MLP, module__n_features=30, module__n_classes=2, module__hidden=(32,),
        classes=np.arange(2), max_epochs=epochs, lr=1e-2, batch_size=64,
        random_state=random_state, device="cpu",
    )


def breast_cancer_spec() -> ExperimentSpec:
    """scikit-learn's bundled breast-cancer data (569 x 30, standardised), an MLP 30-32-2.

    30% of the points are held out (stratified); 10 initial labels, 10 per round,
    8 rounds (90 labels), 100 epochs per fit.
    """
    return ExperimentSpec(
        name="breast-cancer",
        description="scikit-learn breast cancer (30 standardised features), MLP 30-32-2; "
        "10 initial labels, B=10, up to 90",
        load=_load_breast_cancer,
        model=_breast_cancer_model,
        n_classes=2,
        n_initial=10,
        batch_size=10,
        n_rounds=8,
        epochs=100,
        test_size=0.3,
    )


def _load_shuttle(data_dir: str | None) -> Dataset:
    X, y = load_shuttle(data_dir or SHUTTLE_PATH)
    keep = shuttle_subsample(y, SHUTTLE_SAMPLES, random_state=0)
    X, y = X[keep], y[keep]
    X = (X - X.mean(axis=0)) / X.std(axis=0)  # [4000, 9], standardised over the sample
    return Dataset(X.astype(np.float32), y)


def _shuttle_model(random_state: int, epochs: int):
    from modal_ibal.experiments._classifier import make_classifier
    from modal_ibal.experiments._networks import MLP

    n_classes = len(SHUTTLE_CLASSES)
    return make_classifier(
        MLP, module__n_features=9, module__n_classes=n_classes, module__hidden=(32,),
        classes=np.arange(n_classes), max_epochs=epochs, lr=1e-2, batch_size=64,
        random_state=random_state, device="cpu",
    )


def shuttle_spec() -> ExperimentSpec:
    """Statlog Shuttle (mlbench), strongly imbalanced: 4,000 rows, an MLP 9-32-7.

    Every row of the four rare classes (244) and a proportional sample of the
    three common ones (:func:`benchmarks.shuttle.shuttle_subsample`), standardised:
    2,966 : 578 : 212 : 171 : 50 : 13 : 10. 30% held out (stratified); 10 initial
    labels, 10 per round, 10 rounds (110 labels), 100 epochs per fit.
    """
    return ExperimentSpec(
        name="shuttle",
        description="Statlog Shuttle (mlbench; 4,000 rows, 7 classes from 2,965 to 10 rows), "
        "MLP 9-32-7; 10 initial labels, B=10, up to 110",
        load=_load_shuttle,
        model=_shuttle_model,
        n_classes=len(SHUTTLE_CLASSES),
        n_initial=10,
        batch_size=10,
        n_rounds=10,
        epochs=100,
        test_size=0.3,
    )


# Fashion-MNIST on 2 CPU cores: a pool small enough for scikit-activeml's dense N x N kernels
FASHION_MNIST_OVERRIDES = {"pool_size": 3000, "epochs": 20, "rounds": 8}


def _spec(name: str, *, pool_size: int | None, epochs: int | None,
          rounds: int | None) -> ExperimentSpec:
    spec = (breast_cancer_spec() if name == "breast-cancer" else shuttle_spec()
            if name == "shuttle" else get_experiment(name))
    defaults = FASHION_MNIST_OVERRIDES if name == "fashion-mnist" else {}
    return spec.with_overrides(pool_size=pool_size or defaults.get("pool_size"),
                               epochs=epochs or defaults.get("epochs"),
                               rounds=rounds if rounds is not None else defaults.get("rounds"))


def fit_autoencoder(X: np.ndarray, random_state: int, *, max_epochs: int = 30) -> CachedEmbedding:
    """An autoencoder fitted on ``X`` (images: convolutional; vectors: MLP), cached per row.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features) or (n_samples, channels, height, width)
    random_state : int
    max_epochs : int, default=30

    Returns
    -------
    CachedEmbedding
        Codes of 16 dimensions (at most ``n_features`` for vectors).
    """
    if X.ndim == 4:
        autoencoder = ConvAutoencoder(latent_dim=16, max_epochs=max_epochs, device="cpu",
                                      random_state=random_state)
    elif X.ndim == 2:
        autoencoder = MLPAutoencoder(latent_dim=min(16, X.shape[1]), max_epochs=max_epochs,
                                     device="cpu", random_state=random_state)
    else:
        raise ValueError(
            "The 'X' parameter of fit_autoencoder must be vectors (2-D) or images (4-D). "
            f"Got shape {X.shape} instead."
        )
    return CachedEmbedding(autoencoder.fit(X), random_state=random_state)


def tune_paper_gamma(spec: ExperimentSpec, data: Dataset, *, gammas: Sequence[float] = GAMMAS,
                     n_repeats: int = 2) -> dict[str, Any]:
    r"""Choose :math:`\gamma` of the paper's IBAL-D on seed 0's pool.

    Seed 0's pool is split (stratified, 70/30) into a training pool and a
    validation split; :func:`modal_ibal.tune_gamma` runs ``n_repeats`` short loops
    per candidate (the spec's initial size and batch, at most 4 rounds) with the
    autoencoder fitted on seed 0's pool.

    Returns
    -------
    dict
        ``gamma`` (the choice), ``gammas``, ``mean_aulc`` (per candidate, validation
        accuracy), ``n_repeats``, ``n_rounds``.
    """
    split = spec.split(data, 0)
    train, val = train_test_split(np.arange(len(split.y_pool)), test_size=0.3, random_state=0,
                                  stratify=split.y_pool)
    embedding = fit_autoencoder(split.X_pool, derive_seed(0, MODEL, _AUTOENCODER_STREAM))
    n_rounds = min(spec.n_rounds, 4)
    search = tune_gamma(
        lambda seed: spec.model(seed, spec.epochs), split.X_pool[train], split.y_pool[train],
        split.X_pool[val], split.y_pool[val], gammas=gammas, embedding=embedding,
        n_initial=spec.n_initial, n_instances=spec.batch_size, n_rounds=n_rounds,
        n_repeats=n_repeats, random_state=0,
    )
    return {"gamma": search.best_gamma, "gammas": search.table["gamma"].tolist(),
            "mean_aulc": search.table["mean_aulc"].round(4).tolist(), "n_repeats": n_repeats,
            "n_rounds": n_rounds}


def _paper_gamma(spec: ExperimentSpec, data: Dataset, out: Path) -> float:
    """The tuned gamma, read from ``<out>/gamma.json`` or tuned and written there."""
    path = out / "gamma.json"
    if path.is_file():
        return float(json.loads(path.read_text())["gamma"])
    tuned = tune_paper_gamma(spec, data)
    path.write_text(json.dumps(tuned, indent=2) + "\n")
    return float(tuned["gamma"])


def _finished(out: Path, name: str, seed: int) -> bool:
    """Whether the run exists and passes the runner's checks."""
    protocol = read_protocol(out)
    if protocol is None:
        return False
    try:
        read_run(run_file(out, name, seed), protocol, name, seed)
    except (DamagedFileError, FileNotFoundError):
        return False
    return True


def _past(stop_at: datetime.datetime | None) -> bool:
    return stop_at is not None and datetime.datetime.now(datetime.UTC) >= stop_at


def run_peers(spec: ExperimentSpec, seeds: Sequence[int], out: Path, *,
              stop_at: datetime.datetime | None = None, report_only: bool = False,
              progress: bool = True, command: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """Run every strategy on ``spec`` seed by seed (resuming), then write the reports.

    The paper IBAL-D's autoencoder is fitted on the seed's pool before its run
    (outside the query timings), and only when that run is not already on disk.
    With ``report_only``, nothing is run: the reports cover the finished seeds.

    Returns
    -------
    results, timings : pandas.DataFrame
        The runner's rows for the seeds every strategy finished.
    gamma : float
        The paper IBAL-D's tuned gamma.
    """
    out.mkdir(parents=True, exist_ok=True)
    names = [*PROJECT_STRATEGIES, PAPER_IBAL_D, *SKACTIVEML_STRATEGIES, *RECIPE_STRATEGIES]
    if report_only and not (out / "gamma.json").is_file():
        raise RuntimeError(f"No seed of '{spec.name}' finished every strategy.")
    data = spec.load_data()
    gamma = _paper_gamma(spec, data, out)
    for seed in seeds:
        if report_only or _past(stop_at):
            break
        split = spec.split(data, seed)
        strategies = {**resolve_strategies(PROJECT_STRATEGIES),
                      **skactiveml_strategies(spec.n_classes), **RECIPE_STRATEGIES}
        if not _finished(out, PAPER_IBAL_D, seed):
            embedding = fit_autoencoder(split.X_pool,
                                        derive_seed(seed, MODEL, _AUTOENCODER_STREAM))
            strategies[PAPER_IBAL_D] = functools.partial(
                ibal_distance_sampling, gamma=gamma, embedding=embedding)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module=r"skactiveml\.")
            run_experiment(spec, strategies, seeds=[seed], out=out, resume=True,
                           progress=progress, data=data)
    done = [seed for seed in sorted(seeds) if all(_finished(out, name, seed) for name in names)]
    if not done:
        raise RuntimeError(f"No seed of '{spec.name}' finished every strategy.")
    results, timings = assemble(out, [(name, seed) for seed in done for name in names])
    write_summary(out, results, timings, title=f"{spec.name}: project vs scikit-activeml",
                  command=command)
    X = data.X if (data.X.ndim == 4 or (data.X.ndim == 2 and data.X.shape[1] == 2)) else None
    write_figures(out, results, X, data.y if X is not None else None, title=spec.name)
    return results, timings, gamma


def peer_table(results: pd.DataFrame, timings: pd.DataFrame) -> pd.DataFrame:
    """Per strategy: AULC of accuracy and balanced accuracy, paired differences, query time.

    Parameters
    ----------
    results, timings : pandas.DataFrame
        The runner's score and timing rows for one data set.

    Returns
    -------
    pandas.DataFrame
        Index strategy (sorted by mean AULC of accuracy, best first); columns
        ``aulc_mean``, ``aulc_std`` (ddof=1), ``vs_random_mean``, ``vs_random_sem``,
        ``vs_peer_mean``, ``vs_peer_sem`` (paired AULC differences of accuracy
        against ``random`` and :data:`PEER_REFERENCE`), the same six for balanced
        accuracy prefixed ``balanced_``, ``query_median`` (seconds per round, over
        seeds and rounds), ``query_ratio`` (to the reference's) and ``n_seeds``.
    """
    runs = aulc_table(results)
    columns = {}
    for metric, prefix in (("accuracy", ""), ("balanced_accuracy", "balanced_")):
        aulc = runs[runs["metric"] == metric].groupby("strategy")["aulc"]
        vs_random = paired_differences(runs, "random", metric)
        vs_peer = paired_differences(runs, PEER_REFERENCE, metric)
        columns.update({
            f"{prefix}aulc_mean": aulc.mean(), f"{prefix}aulc_std": aulc.std(ddof=1),
            f"{prefix}vs_random_mean": vs_random["mean"], f"{prefix}vs_random_sem": vs_random["sem"],
            f"{prefix}vs_peer_mean": vs_peer["mean"], f"{prefix}vs_peer_sem": vs_peer["sem"],
        })
    query = timings[timings["metric"] == "query_seconds"].groupby("strategy")["value"].median()
    table = pd.DataFrame({
        **columns, "query_median": query, "query_ratio": query / query[PEER_REFERENCE],
        "n_seeds": runs[runs["metric"] == "accuracy"].groupby("strategy")["aulc"].count(),
    })
    return table.sort_values("aulc_mean", ascending=False, kind="mergesort")


def recipe_table(results: pd.DataFrame, timings: pd.DataFrame) -> pd.DataFrame:
    """UHerding's recipe against the default: paired differences to :data:`RECIPE_REFERENCE`.

    Returns
    -------
    pandas.DataFrame
        Index the :data:`RECIPE_STRATEGIES` and :data:`PEER_REFERENCE`; columns
        ``vs_default_mean``, ``vs_default_sem`` (AULC of accuracy),
        ``balanced_vs_default_mean``, ``balanced_vs_default_sem`` and
        ``query_ratio`` (median query seconds over the default's).
    """
    runs = aulc_table(results)
    names = [*RECIPE_STRATEGIES, PEER_REFERENCE]
    accuracy = paired_differences(runs, RECIPE_REFERENCE, "accuracy").loc[names]
    balanced = paired_differences(runs, RECIPE_REFERENCE, "balanced_accuracy").loc[names]
    query = timings[timings["metric"] == "query_seconds"].groupby("strategy")["value"].median()
    return pd.DataFrame({
        "vs_default_mean": accuracy["mean"], "vs_default_sem": accuracy["sem"],
        "balanced_vs_default_mean": balanced["mean"], "balanced_vs_default_sem": balanced["sem"],
        "query_ratio": (query / query[RECIPE_REFERENCE]).loc[names],
    })


def _pm(mean: float, spread: float, reference: bool = False) -> str:
    return "—" if reference else f"{mean:+.3f} ± {spread:.3f}"


def _markdown(name: str, spec: ExperimentSpec, table: pd.DataFrame, gamma: float,
              recipes: pd.DataFrame | None = None) -> list[str]:
    test = spec.test_size
    test = ("the official test split" if test is None
            else f"{test:.0%} of the data" if isinstance(test, float) else f"{test} points")
    lines = [
        f"### {name}", "",
        f"{spec.n_initial} initial labels, B={spec.batch_size}, {spec.n_rounds} rounds (up to "
        f"{int(spec.budgets[-1])} labels); {spec.epochs} epochs per fit; pool "
        f"{spec.pool_size or 'all but the test set'}; test set {test}; "
        f"{int(table['n_seeds'].min())} seeds; paper IBAL-D gamma = {gamma:g} (tuned on "
        "seed 0, gamma.json).", "",
        f"| strategy | AULC accuracy | vs random | vs {PEER_REFERENCE} | AULC balanced accuracy "
        f"| vs random | vs {PEER_REFERENCE} | median query s | x {PEER_REFERENCE} |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for strategy, row in table.iterrows():
        lines.append(
            f"| {strategy} | {row.aulc_mean:.3f} ± {row.aulc_std:.3f} | "
            f"{_pm(row.vs_random_mean, row.vs_random_sem, strategy == 'random')} | "
            f"{_pm(row.vs_peer_mean, row.vs_peer_sem, strategy == PEER_REFERENCE)} | "
            f"{row.balanced_aulc_mean:.3f} ± {row.balanced_aulc_std:.3f} | "
            f"{_pm(row.balanced_vs_random_mean, row.balanced_vs_random_sem, strategy == 'random')}"
            f" | {_pm(row.balanced_vs_peer_mean, row.balanced_vs_peer_sem, strategy == PEER_REFERENCE)}"
            f" | {row.query_median:.3f} | {row.query_ratio:.2f} |"
        )
    lines.append("")
    if recipes is not None:
        lines += [
            f"UHerding's recipe against `{RECIPE_REFERENCE}` (the default), paired:", "",
            "| strategy | vs default, accuracy | vs default, balanced accuracy | x query time |",
            "|---|---|---|---|",
        ]
        for strategy, row in recipes.iterrows():
            lines.append(
                f"| {strategy} | {_pm(row.vs_default_mean, row.vs_default_sem)} | "
                f"{_pm(row.balanced_vs_default_mean, row.balanced_vs_default_sem)} | "
                f"{row.query_ratio:.2f} |"
            )
        lines.append("")
    return lines


def _stop_time(value: str) -> datetime.datetime:
    try:
        clock = datetime.time.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--stop-at must be a UTC time HH:MM. Got {value!r} instead.") from None
    now = datetime.datetime.now(datetime.UTC)
    stop = now.replace(hour=clock.hour, minute=clock.minute, second=0, microsecond=0)
    return stop if stop > now else stop + datetime.timedelta(days=1)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.peers",
        description="The project's strategies and scikit-activeml's MaxHerding, TypiClust and "
        "ProbCover on the same runner, splits, nets and seeds.")
    parser.add_argument("--datasets", default=",".join(DATASETS),
                        help=f"comma-separated, from {', '.join(DATASETS)}")
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0 .. k-1 (default 10)")
    parser.add_argument("--out", default="results/peers", help="output folder")
    parser.add_argument("--pool-size", type=int, default=None,
                        help="pool points kept (default: fashion-mnist 3000, others the spec's)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs per fit (default: fashion-mnist 20, others the spec's)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="query rounds (default: fashion-mnist 8, others the spec's)")
    parser.add_argument("--stop-at", type=_stop_time, default=None,
                        help="UTC time HH:MM after which no new seed starts")
    parser.add_argument("--descending", action="store_true",
                        help="run the seeds from the last down, so that a second process shares "
                        "the work with one going up (finished runs are kept and skipped)")
    parser.add_argument("--report-only", action="store_true",
                        help="run nothing; report the seeds already finished")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark from the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    names = [part.strip() for part in args.datasets.split(",") if part.strip()]
    unknown = sorted(set(names) - set(DATASETS))
    if unknown or not names:
        raise SystemExit(f"--datasets must name some of {', '.join(DATASETS)}. "
                         f"Got {args.datasets!r} instead.")
    out = Path(args.out)
    seeds = list(range(args.seeds))[::-1] if args.descending else list(range(args.seeds))
    command = "python -m benchmarks.peers " + " ".join(sys.argv[1:] if argv is None else argv)
    report = ["# Peers side by side: the project and scikit-activeml", "",
              "```", command, "```", "",
              "AULC of test accuracy (mean ± std over seeds); paired AULC differences "
              "(mean ± s.e. over seeds) against random and scikit-activeml's MaxHerding; "
              "median query seconds per round and its ratio to scikit-activeml's MaxHerding "
              "(2 shared, loaded CPU cores).", ""]
    for name in names:
        spec = _spec(name, pool_size=args.pool_size, epochs=args.epochs, rounds=args.rounds)
        try:
            results, timings, gamma = run_peers(
                spec, seeds, out / name, stop_at=args.stop_at,
                report_only=args.report_only, progress=not args.no_progress, command=command)
        except (RuntimeError, FileNotFoundError) as error:
            report += [f"### {name}", "", f"Not run: {error}", ""]
            continue
        report += _markdown(name, spec, peer_table(results, timings), gamma,
                            recipe_table(results, timings))
        (out / "peers.md").write_text("\n".join(report))
    (out / "peers.md").write_text("\n".join(report))
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
