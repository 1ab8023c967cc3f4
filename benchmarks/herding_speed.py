r"""Kernel herding (:func:`modal_ibal.strategies.herding_sampling`): query speed and label efficiency.

::

    python -m benchmarks.herding_speed speed [--sizes 100000] [--dims 64] [--labelled 100]
                                             [--n-neighbors 20] [--instances 10]
    python -m benchmarks.herding_speed greedy [--sizes 1000000] [--n-neighbors 20]
                                              [--labelled 100] [--instances 10]
    python -m benchmarks.herding_speed curves [--seeds 20] [--n-neighbors 20,5,10,50,all]
                                              [--widths rule,0.1,0.2,0.5,1.0,5.657]
                                              [--weights none,margin]

``speed``
    One query of ``herding_sampling`` on a float32 pool of ``--sizes`` points in
    ``--dims`` dimensions (sklearn digits rows plus Gaussian noise, sigma 0.1, as in
    :mod:`benchmarks.query_speed`; other dimensions project them with a fixed
    random matrix) next to ``--labelled`` labelled points, representation
    ``'inputs'``, with a bare ``LogisticRegression`` fitted on the labelled set.
    Reported: the whole query and its two parts, building the graph
    (:func:`~modal_ibal.coverage.knn_kernel_graph`) and the greedy
    (:func:`~modal_ibal.coverage.greedy_kernel_herding`), each timed once with
    ``time.perf_counter``, and the query's peak extra resident memory
    (:func:`benchmarks.query_speed.peak_extra`). Run it with one BLAS thread.
``greedy``
    The greedy alone, at sizes whose brute-force neighbour search would take
    hours here: a random symmetric graph in which every point has itself and
    ``k - 1`` uniformly drawn points as neighbours, with uniform kernel values.
    A random graph's two-hop neighbourhoods are about as large as they can be,
    so this is a pessimistic stand-in for a kNN graph of the same size.
``curves``
    A modAL loop on sklearn digits: a stratified 30% test split, 10 random labels,
    then 9 queries of 10 (up to 100 labels), a ``LogisticRegression`` refitted
    after each; per seed and strategy the accuracy after every round and its
    mean over the 10 rounds (AULC). Herding runs on the unit-normalised pixel rows
    for every combination of ``--n-neighbors`` (``all`` = every point, the exact
    MaxHerding), ``--widths`` (``rule`` = the default bandwidth of
    :func:`~modal_ibal.coverage.knn_kernel_graph`; 5.657 = :math:`\sqrt{d/2}`,
    scikit-activeml's default ``rbf`` kernel with ``gamma = 1/d``) and
    ``--weights``, next to random, margin and TypiClust. The table reports the
    mean AULC and its paired differences (mean and standard error over the same
    seeds) to random, to TypiClust and to the first herding setting.

Measured here (2 shared cores under load from other jobs, one BLAS thread,
``nice -n 10``; k = 20, 100 labelled, 10 picks): ``speed`` at 100,000 x 64 took
42 s per query, 41 s of it the brute-force neighbour search and 0.2 s the
greedy, 173-228 MB peak extra memory; at 16 dimensions 28 s (100,000) and 107 s
(200,000), quadratic as expected, so about 45 minutes at 1,000,000 points on
one thread. ``greedy`` at 1,000,000 points (39 M graph entries) took 2.5 s and
526 MB peak extra. ``curves --seeds 20`` (AULC; random 0.752, margin 0.789,
TypiClust 0.831): herding k = 20 0.835 (+0.004 +- 0.002 over TypiClust), with
``weights='margin'`` 0.842 (+0.007 +- 0.002 over unweighted herding).
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

import modal_ibal  # noqa: F401  (applies the modAL compatibility shim)
from benchmarks.memory import peak_extra
from benchmarks.workloads import sample_pool
from modal_ibal.coverage import greedy_kernel_herding, knn_kernel_graph
from modal_ibal.strategies import (
    herding_sampling,
    margin_sampling,
    random_sampling,
    typiclust_sampling,
)

_INITIAL = 10
_BATCH = 10
_ROUNDS = 9


# ---------------------------------------------------------------------------- speed


def speed_pool(n_points: int, n_dims: int, seed: int = 0) -> np.ndarray:
    """``n_points`` digits rows plus noise, projected to ``n_dims`` unless that is 64."""
    rng = np.random.default_rng(seed)
    X, _ = sample_pool(n_points, rng, image=False)  # [N, 64], float32
    if n_dims != X.shape[1]:
        X = X @ rng.standard_normal((X.shape[1], n_dims)).astype(np.float32)  # [N, d]
    return np.ascontiguousarray(X, dtype=np.float32)


def measure_speed(n_pool: int, n_dims: int, n_labelled: int, n_neighbors: int,
                  n_instances: int) -> dict:
    """Timings (s) and peak extra memory (bytes) of one herding query and of its parts."""
    X = speed_pool(n_pool + n_labelled, n_dims)
    X_labelled, X_pool = X[:n_labelled], X[n_labelled:]
    y_labelled = np.arange(n_labelled) % 10
    model = LogisticRegression(max_iter=200).fit(X_labelled, y_labelled)
    query = functools.partial(herding_sampling, model, X_pool, n_instances,
                              X_labelled=X_labelled, y_labelled=y_labelled,
                              n_neighbors=n_neighbors)
    herding_sampling(model, X_pool[:2000], n_instances, X_labelled=X_labelled,
                     y_labelled=y_labelled, n_neighbors=n_neighbors)  # warm-up
    start = time.perf_counter()
    extra, peak = peak_extra(query)
    total = time.perf_counter() - start
    Z = X / np.linalg.norm(X, axis=1, keepdims=True)  # labelled first, as the query does
    start = time.perf_counter()
    graph = knn_kernel_graph(Z, n_neighbors)
    build = time.perf_counter() - start
    start = time.perf_counter()
    greedy_kernel_herding(graph, n_labelled, n_instances)
    greedy = time.perf_counter() - start
    return {"n_pool": n_pool, "n_dims": n_dims, "n_labelled": n_labelled,
            "n_neighbors": n_neighbors, "n_instances": n_instances, "query_s": total,
            "graph_s": build, "greedy_s": greedy, "graph_nnz": graph.nnz,
            "peak_extra_mb": extra / 2**20, "peak_rss_mb": peak / 2**20}


def measure_greedy(n_points: int, n_neighbors: int, n_labelled: int, n_instances: int) -> dict:
    """Time (s) and peak extra memory (bytes) of the greedy on a random kNN-like graph."""
    rng = np.random.default_rng(0)
    others = rng.integers(0, n_points, size=(n_points, n_neighbors - 1))  # [M, k - 1]
    rows = np.repeat(np.arange(n_points), n_neighbors)  # [M k]
    columns = np.hstack([np.arange(n_points)[:, None], others]).ravel()  # [M k], self first
    values = np.hstack([np.ones((n_points, 1)), rng.uniform(size=others.shape)]).ravel()
    directed = sp.csr_matrix((values, (rows, columns)), shape=(n_points, n_points))
    graph = directed.maximum(directed.T).tocsr()
    del directed, rows, columns, values, others
    start = time.perf_counter()
    extra, peak = peak_extra(lambda: greedy_kernel_herding(graph, n_labelled, n_instances))
    return {"n_points": n_points, "n_neighbors": n_neighbors, "n_instances": n_instances,
            "graph_nnz": graph.nnz, "greedy_s": time.perf_counter() - start,
            "peak_extra_mb": extra / 2**20, "peak_rss_mb": peak / 2**20}


# --------------------------------------------------------------------------- curves


def _model(kind: str):
    if kind == "logreg":
        return LogisticRegression(max_iter=2000)
    raise ValueError(f"The 'model' option must be 'logreg'. Got {kind!r} instead.")


def learning_curve(strategy: Callable, seed: int, model: str = "logreg") -> np.ndarray:
    """Test accuracy after each of the 10 rounds (10, 20, ..., 100 labels)."""
    from modAL.models import ActiveLearner

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y,
                                                        random_state=seed)
    rng = np.random.default_rng(seed)
    start = rng.choice(len(X_train), _INITIAL, replace=False)
    pool = np.setdiff1d(np.arange(len(X_train)), start)
    learner = ActiveLearner(_model(model), query_strategy=strategy,
                            X_training=X_train[start], y_training=y_train[start])
    accuracy = [learner.score(X_test, y_test)]
    for round_ in range(_ROUNDS):
        chosen, _ = learner.query(X_train[pool], n_instances=_BATCH,
                                  random_state=seed * 1000 + round_)
        learner.teach(X_train[pool[chosen]], y_train[pool[chosen]])
        pool = np.delete(pool, chosen)
        accuracy.append(learner.score(X_test, y_test))
    return np.asarray(accuracy)


def curve_strategies(neighbours: Sequence[str], widths: Sequence[str],
                     weights: Sequence[str]) -> dict[str, Callable]:
    """Random, margin, TypiClust and herding for every (k, width, weights); k 'all' = every point."""
    chosen: dict[str, Callable] = {"random": random_sampling, "margin": margin_sampling,
                                   "typiclust": typiclust_sampling}
    for k in neighbours:
        for width in widths:
            for weight in weights:
                chosen[f"herding k={k} h={width} w={weight}"] = functools.partial(
                    herding_sampling, n_neighbors=10**9 if k == "all" else int(k),
                    bandwidth=None if width == "rule" else float(width),
                    weights=None if weight == "none" else weight)
    return chosen


def run_curves(seeds: int, neighbours: Sequence[str], widths: Sequence[str],
               weights: Sequence[str], model: str) -> dict[str, np.ndarray]:
    """{strategy: AULC per seed}, printing each strategy's line as it finishes."""
    results = {}
    for name, strategy in curve_strategies(neighbours, widths, weights).items():
        start = time.perf_counter()
        curves = np.stack([learning_curve(strategy, seed, model) for seed in range(seeds)])
        results[name] = curves.mean(axis=1)  # [seeds]
        print(f"{name:28s} AULC {results[name].mean():.4f}  acc@100 "
              f"{curves[:, -1].mean():.4f}  ({time.perf_counter() - start:.1f} s)", flush=True)
    return results


def _paired(aulc: np.ndarray, base: np.ndarray) -> str:
    """'mean +- standard error' of the per-seed differences."""
    difference = aulc - base
    error = difference.std(ddof=1) / np.sqrt(len(difference)) if len(difference) > 1 else 0.0
    return f"{difference.mean():+.4f} +- {error:.4f}"


def curve_table(results: dict[str, np.ndarray]) -> str:
    """Markdown: mean AULC and its paired differences to random, TypiClust and the default.

    The default is the first herding row (put ``20``, ``rule`` and ``none`` first).
    """
    default = next(name for name in results if name.startswith("herding"))
    lines = [f"| strategy | AULC | - random | - typiclust | - {default} |", "|---|---|---|---|---|"]
    for name, aulc in results.items():
        lines.append(f"| {name} | {aulc.mean():.4f} | {_paired(aulc, results['random'])} | "
                     f"{_paired(aulc, results['typiclust'])} | "
                     f"{_paired(aulc, results[default])} |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- main


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",")]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    speed = commands.add_parser("speed", help="time one query and measure its memory")
    speed.add_argument("--sizes", type=_ints, default=[100_000])
    speed.add_argument("--dims", type=_ints, default=[64])
    speed.add_argument("--labelled", type=int, default=100)
    speed.add_argument("--n-neighbors", type=int, default=20)
    speed.add_argument("--instances", type=int, default=10)
    greedy = commands.add_parser("greedy", help="time the greedy on a random graph")
    greedy.add_argument("--sizes", type=_ints, default=[1_000_000])
    greedy.add_argument("--n-neighbors", type=int, default=20)
    greedy.add_argument("--labelled", type=int, default=100)
    greedy.add_argument("--instances", type=int, default=10)
    curves = commands.add_parser("curves", help="label efficiency on digits")
    curves.add_argument("--seeds", type=int, default=20)
    curves.add_argument("--n-neighbors", default="20,5,10,50,all")
    curves.add_argument("--widths", default="rule,0.1,0.2,0.5,1.0,5.657")
    curves.add_argument("--weights", default="none,margin")
    curves.add_argument("--model", default="logreg")
    args = parser.parse_args(argv)
    if args.command == "speed":
        for size in args.sizes:
            for dims in args.dims:
                print(measure_speed(size, dims, args.labelled, args.n_neighbors, args.instances),
                      flush=True)
    elif args.command == "greedy":
        for size in args.sizes:
            print(measure_greedy(size, args.n_neighbors, args.labelled, args.instances),
                  flush=True)
    else:
        results = run_curves(args.seeds, args.n_neighbors.split(","), args.widths.split(","),
                             args.weights.split(","), args.model)
        print(curve_table(results))


if __name__ == "__main__":
    main()
