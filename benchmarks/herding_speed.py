r"""Kernel herding (:func:`modal_ibal.strategies.herding_sampling`): query speed and label efficiency.

::

    python -m benchmarks.herding_speed speed [--sizes 100000] [--dims 64] [--labelled 100]
                                             [--n-neighbors 20] [--instances 10]
    python -m benchmarks.herding_speed greedy [--sizes 1000000] [--n-neighbors 20]
                                              [--labelled 100] [--instances 10]
    python -m benchmarks.herding_speed curves [--seeds 20] [--n-neighbors 20,5,10,50,all]
                                              [--widths rule,0.1,0.2,0.5,1.0,5.657]
                                              [--weights none,margin]
    python -m benchmarks.herding_speed search [--seeds 10] [--dataset fashion-mnist]
                                              [--pool 20000] [--out DIR]
    python -m benchmarks.herding_speed peer [--sizes 5000,10000,20000,40000]
                                            [--labelled 100] [--instances 10] [--timeout 900]

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
    (:func:`benchmarks.memory.peak_extra`). Run it with one BLAS thread.
``greedy``
    The greedy alone on a random symmetric graph in which every point has itself
    and ``k - 1`` uniformly drawn points as neighbours, with uniform kernel values:
    a random graph's two-hop neighbourhoods are about as large as they can be, so
    this is a pessimistic stand-in for a kNN graph of the same size.
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
``search``
    The same loop on ``--pool`` Fashion-MNIST training images (784 pixels; a
    2,000-image stratified test set drawn with them, per seed), for random and
    for ``default_sampling``'s herding (``weights='margin'``) with the exact
    (``algorithm='brute'``) and the partitioned neighbour search: does the
    approximate graph cost labels? Paired AULC differences over ``--seeds``.
``peer``
    scikit-activeml's ``MaxHerding`` (defaults: dense RBF kernel over all points)
    and ``herding_sampling`` on the same ``speed`` pool, one query of 10 each, per
    size in a fresh process whose address space is capped at 70% of the machine's
    memory and whose time is capped at ``--timeout``: seconds and peak extra memory,
    up to the first size scikit-activeml does not finish.

Measured here (2 shared cores, Intel Xeon, numpy 2.4, OpenBLAS; one thread unless
said otherwise): see ``benchmarks/README.md``, "Kernel herding at large pools".
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

import modal_ibal  # noqa: F401  (applies the modAL compatibility shim)
from benchmarks.memory import peak_extra
from benchmarks.workloads import sample_pool
from modal_ibal import herding_sampling, margin_sampling, random_sampling, typiclust_sampling
from modal_ibal.coverage._herding import greedy_kernel_herding
from modal_ibal.coverage._kernel import knn_kernel_graph
from modal_ibal.experiments._datasets import load_fashion_mnist

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


# ----------------------------------------------------------------------------- peer


def measure_peer_one(n_pool: int, n_labelled: int, n_instances: int) -> dict:
    """One query of scikit-activeml's MaxHerding and of ``herding_sampling`` on one pool.

    The same ``speed`` pool, labelled set and LogisticRegression; scikit-activeml
    on its defaults (RBF kernel, ``gamma = 1/d``, the dense kernel over all
    points), through :func:`benchmarks.peers.skactiveml_strategy`.
    """
    from skactiveml.pool import MaxHerding

    from benchmarks.peers import skactiveml_strategy

    X = speed_pool(n_pool + n_labelled, 64)
    X_labelled, X_pool = X[:n_labelled], X[n_labelled:]
    y_labelled = np.arange(n_labelled) % 10
    model = LogisticRegression(max_iter=200).fit(X_labelled, y_labelled)
    row = {"n_pool": n_pool, "n_labelled": n_labelled, "n_instances": n_instances}
    for name, strategy in (("skactiveml MaxHerding", skactiveml_strategy(MaxHerding)),
                           ("herding_sampling", herding_sampling)):
        query = functools.partial(strategy, model, X_pool, n_instances, X_labelled=X_labelled,
                                  y_labelled=y_labelled)
        start = time.perf_counter()
        extra, _ = peak_extra(query)
        row[f"{name} s"] = time.perf_counter() - start
        row[f"{name} peak extra MB"] = extra / 2**20
    return row


def measure_peer(sizes: Sequence[int], n_labelled: int, n_instances: int,
                 timeout: float) -> list[dict]:
    """:func:`measure_peer_one` per size, each in a fresh process with a time limit.

    A size that runs out of time or memory (address space capped at 70% of the
    machine's memory, so that a dense kernel fails with a MemoryError instead of
    waking the kernel's out-of-memory killer) is reported as not finished, and
    the larger sizes are not tried.
    """
    limit = int(0.7 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))

    def cap_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    rows = []
    for size in sizes:
        command = [sys.executable, "-m", "benchmarks.herding_speed", "peer-one",
                   str(size), str(n_labelled), str(n_instances)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                  preexec_fn=cap_memory)
        except subprocess.TimeoutExpired:
            rows.append({"n_pool": size, "finished": f"no: over {timeout:.0f} s"})
            break
        if done.returncode != 0:
            reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
            rows.append({"n_pool": size, "finished": f"no: exit {done.returncode}, {reason}"})
            break
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]) | {"finished": "yes"})
        print(rows[-1], flush=True)
    return rows


def peer_table(rows: list[dict]) -> str:
    """Markdown: per pool size, both strategies' seconds and peak extra memory."""
    lines = ["| pool | scikit-activeml MaxHerding | herding_sampling | ratio |",
             "|---|---|---|---|"]
    for row in rows:
        if row["finished"] != "yes":
            lines.append(f"| {row['n_pool']:,} | did not finish ({row['finished'][4:]}) | | |")
            continue
        peer, ours = "skactiveml MaxHerding", "herding_sampling"
        lines.append(f"| {row['n_pool']:,} | {row[peer + ' s']:.2f} s, "
                     f"{row[peer + ' peak extra MB']:,.0f} MB | {row[ours + ' s']:.2f} s, "
                     f"{row[ours + ' peak extra MB']:,.0f} MB | "
                     f"{row[peer + ' s'] / row[ours + ' s']:.1f}x |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- curves


def _model(kind: str):
    if kind == "logreg":
        return LogisticRegression(max_iter=2000)
    raise ValueError(f"The 'model' option must be 'logreg'. Got {kind!r} instead.")


def _dataset(name: str, seed: int, pool_size: int | None) -> tuple[np.ndarray, ...]:
    """(X_train, X_test, y_train, y_test): digits (30% test) or Fashion-MNIST (2,000 test)."""
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        X = (X / 16.0).astype(np.float32)
        return tuple(train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed))
    if name == "fashion-mnist":
        X, y = load_fashion_mnist()
        X = X.reshape(len(X), -1)
        chosen = np.random.default_rng(seed).choice(len(X), (pool_size or 20_000) + 2_000,
                                                    replace=False)
        return tuple(train_test_split(X[chosen], y[chosen], test_size=2_000, stratify=y[chosen],
                                      random_state=seed))
    raise ValueError(f"The 'dataset' option must be 'digits' or 'fashion-mnist'. Got {name!r}.")


def learning_curve(strategy: Callable, seed: int, model: str = "logreg",
                   dataset: str = "digits", pool_size: int | None = None) -> np.ndarray:
    """Test accuracy after each of the 10 rounds (10, 20, ..., 100 labels)."""
    from modAL.models import ActiveLearner

    X_train, X_test, y_train, y_test = _dataset(dataset, seed, pool_size)
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


def run_curves(strategies: dict[str, Callable], seeds: int, model: str = "logreg",
               dataset: str = "digits", pool_size: int | None = None) -> dict[str, np.ndarray]:
    """{strategy: AULC per seed}, printing each strategy's line as it finishes."""
    results = {}
    for name, strategy in strategies.items():
        start = time.perf_counter()
        curves = np.stack([learning_curve(strategy, seed, model, dataset, pool_size)
                           for seed in range(seeds)])
        results[name] = curves.mean(axis=1)  # [seeds]
        print(f"{name:28s} AULC {results[name].mean():.4f}  acc@100 "
              f"{curves[:, -1].mean():.4f}  ({time.perf_counter() - start:.1f} s)", flush=True)
    return results


def search_strategies() -> dict[str, Callable]:
    """Random, and the default strategy's herding with the exact and the partitioned search."""
    return {"random": random_sampling} | {
        f"uherding {algorithm}": functools.partial(herding_sampling, weights="margin",
                                                   algorithm=algorithm)
        for algorithm in ("brute", "partitioned")}


def _paired(aulc: np.ndarray, base: np.ndarray) -> str:
    """'mean +- standard error' of the per-seed differences."""
    difference = aulc - base
    error = difference.std(ddof=1) / np.sqrt(len(difference)) if len(difference) > 1 else 0.0
    return f"{difference.mean():+.4f} +- {error:.4f}"


def curve_table(results: dict[str, np.ndarray], references: Sequence[str]) -> str:
    """Markdown: mean AULC and its paired differences to each of the ``references`` rows."""
    lines = ["| strategy | AULC | " + " | ".join(f"- {name}" for name in references) + " |",
             "|---|---|" + "---|" * len(references)]
    for name, aulc in results.items():
        lines.append(f"| {name} | {aulc.mean():.4f} | "
                     + " | ".join(_paired(aulc, results[ref]) for ref in references) + " |")
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
    search = commands.add_parser("search", help="exact against partitioned neighbour search")
    search.add_argument("--seeds", type=int, default=10)
    search.add_argument("--dataset", default="fashion-mnist")
    search.add_argument("--pool", type=int, default=20_000)
    search.add_argument("--out", type=Path, default=None,
                        help="folder for the per-seed AULC (search.json) and the table")
    peer = commands.add_parser("peer", help="scikit-activeml's MaxHerding side by side")
    peer.add_argument("--sizes", type=_ints, default=[5_000, 10_000, 20_000, 40_000])
    peer.add_argument("--labelled", type=int, default=100)
    peer.add_argument("--instances", type=int, default=10)
    peer.add_argument("--timeout", type=float, default=900.0)
    one = commands.add_parser("peer-one", help=argparse.SUPPRESS)
    one.add_argument("size", type=int)
    one.add_argument("labelled", type=int)
    one.add_argument("instances", type=int)
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
    elif args.command == "peer":
        print(peer_table(measure_peer(args.sizes, args.labelled, args.instances, args.timeout)))
    elif args.command == "peer-one":
        print(json.dumps(measure_peer_one(args.size, args.labelled, args.instances)))
    elif args.command == "search":
        results = run_curves(search_strategies(), args.seeds, "logreg", args.dataset, args.pool)
        table = curve_table(results, ["random", "uherding brute"])
        print(table)
        if args.out is not None:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "search.json").write_text(json.dumps(
                {name: aulc.tolist() for name, aulc in results.items()}, indent=1))
            (args.out / "search.md").write_text(table + "\n")
    else:
        strategies = curve_strategies(args.n_neighbors.split(","), args.widths.split(","),
                                      args.weights.split(","))
        results = run_curves(strategies, args.seeds, args.model)
        default = next(name for name in results if name.startswith("herding"))
        print(curve_table(results, ["random", "typiclust", default]))


if __name__ == "__main__":
    main()
