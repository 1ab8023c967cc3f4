r"""The nearest-labelled search of IBAL-D at scale: before/after, the cache's update, modAL for scale.

::

    python -m benchmarks.nearest_labelled [--pool 1000000] [--labelled 10000] [--dims 16]
                                          [--search-pool 1000000] [--repeats 2] [--new 100]
                                          [--rounds 3] [--loop-rounds 3] [--threads 1]
                                          [--skip-before]
                                          [--out DIR]

One process, one run, in this order:

codes
    ``--pool`` + ``--labelled`` noisy copies of sklearn digits (64 float32 features,
    Gaussian noise sigma 0.1), encoded by an :class:`modal_ibal.MLPAutoencoder`
    (``--dims`` latent dimensions) fitted briefly on the labelled rows: float32 codes.
full search
    The first ``--search-pool`` pool codes against all labelled codes, ``--repeats``
    times each, alternating, the fastest kept: ``before`` is the float64 expansion
    search this library used
    up to now (:func:`float64_expansion_search`, kept here only as the baseline),
    ``after`` is :func:`modal_ibal.search.nearest_labelled_index`. Both must return
    the same rows and bitwise the same distances; the run says how many differ. With
    ``--search-pool`` below ``--pool`` both times are scaled by ``pool / search-pool``
    (the search is linear in the pool) and the table says so.
cache update
    A :class:`modal_ibal.LabelledDistanceCache` is filled with the whole pool
    (one full search, timed), then ``--rounds`` rounds of modAL's loop: the ``--new``
    pool rows farthest from the labelled set are appended to the labelled codes and
    ``np.delete``-d from the pool (untimed), and the cache is called (timed). The last
    round is checked against a full search.
modAL's entropy_sampling
    On the 64-64-10 skorch MLP of ``benchmarks.query_speed`` fitted on digits, over
    the same ``--pool`` x 64 float32 pool, 10 instances, timed once after one call on
    2,000 rows; the ratios divide by it.
ibal_sampling
    The same net, pool and labelled set (with their digits labels), the fastest of
    ``--repeats`` calls (so are the pool's codes). IBAL-D
    in a later round of a loop with the cache costs about this plus the pool's codes
    plus the update: the table adds them up as a projection.
loop
    What the projection stands for, measured: ``--loop-rounds`` rounds of modAL's
    loop on the same net, pool and labelled rows. Each round times modAL's
    ``entropy_sampling`` and :func:`modal_ibal.ibal_distance_sampling` (``embedding=``
    the autoencoder, ``distance_cache=`` one :class:`LabelledDistanceCache` for the
    whole loop) querying ``--new`` points, then moves IBAL-D's picks, with their
    digits labels, from the pool to the labelled rows (``np.delete``, as modAL
    does). The net is not refit: a refit changes what is picked, not what a query
    costs. Round 1 holds the cache's full search; later rounds its update.

Every timing is taken twice, wall clock (``time.perf_counter``) and the process's
CPU time (``time.process_time``): on one thread of a machine shared with other jobs
the CPU time is the steadier of the two. ``--threads 1`` (the default) sets
``torch.set_num_threads(1)`` and a threadpoolctl limit of one BLAS/OpenMP thread for
the whole run, so every timing is single-threaded.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from modAL.uncertainty import entropy_sampling as modal_entropy_sampling
from sklearn.datasets import load_digits
from skorch import NeuralNetClassifier
from threadpoolctl import threadpool_limits
from torch import nn

from modal_ibal import LabelledDistanceCache, MLPAutoencoder, ibal_distance_sampling, ibal_sampling
from modal_ibal.search._nearest_labelled import nearest_labelled_index

NOISE = 0.1
ENTROPY_INSTANCES = 10
_BLOCK_ELEMENTS = 1 << 22
_MAX_BLOCK_ROWS = 2048


def float64_expansion_search(Z_pool: np.ndarray, Z_labelled: np.ndarray) -> tuple[np.ndarray,
                                                                                    np.ndarray]:
    """The search this library used before: float64 products, one thread, same blocks.

    Ranks by :math:`\\lVert z_t\\rVert^2 - 2 z_i^\\top z_t` in float64 (the norms folded
    in as an extra column), keeps the first minimum, and recomputes the distance to the
    winner directly. Kept as the benchmark's baseline only.
    """
    labelled = Z_labelled.astype(np.float64)  # [n, k]
    ranking = np.hstack([-2.0 * labelled, (labelled**2).sum(axis=1, keepdims=True)])  # [n, k+1]
    n_pool, n_labelled = Z_pool.shape[0], Z_labelled.shape[0]
    labelled_chunk = min(n_labelled, max(1, _BLOCK_ELEMENTS // 256))
    pool_chunk = max(1, min(_MAX_BLOCK_ROWS, _BLOCK_ELEMENTS // labelled_chunk))
    nearest = np.zeros(n_pool, dtype=np.intp)
    distance = np.empty(n_pool)
    scores_buffer = np.empty((min(pool_chunk, n_pool), labelled_chunk))
    for start in range(0, n_pool, pool_chunk):
        block = Z_pool[start : start + pool_chunk].astype(np.float64)  # [b, k]
        rows = np.arange(block.shape[0])
        augmented = np.hstack([block, np.ones((block.shape[0], 1))])  # [b, k+1]
        best_score = np.full(block.shape[0], np.inf)  # [b]
        best_index = nearest[start : start + pool_chunk]  # [b], a view
        for lab in range(0, n_labelled, labelled_chunk):
            other = ranking[lab : lab + labelled_chunk]  # [m, k+1]
            scores = np.matmul(augmented, other.T,
                               out=scores_buffer[: block.shape[0], : other.shape[0]])
            winner = scores.argmin(axis=1)  # [b]
            winner_score = scores[rows, winner]  # [b]
            better = winner_score < best_score
            best_score[better] = winner_score[better]
            best_index[better] = winner[better] + lab
        difference = block - labelled[best_index]  # [b, k]
        distance[start : start + pool_chunk] = np.sqrt((difference**2).sum(axis=1))
    return nearest, distance


def digits_pool(size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``size`` noisy copies of random digits rows, float32 (size, 64), and their labels."""
    digits = load_digits()
    X = (digits.data / 16.0).astype(np.float32)
    pool = np.empty((size, 64), dtype=np.float32)
    labels = np.empty(size, dtype=np.int64)
    for start in range(0, size, 1 << 16):
        rows = rng.integers(0, len(X), min(1 << 16, size - start))
        pool[start : start + len(rows)] = X[rows] + NOISE * rng.standard_normal(
            (len(rows), 64), dtype=np.float32)
        labels[start : start + len(rows)] = digits.target[rows]
    return pool, labels


def fitted_mlp(seed: int) -> NeuralNetClassifier:
    """The 64-64-10 MLP of ``benchmarks.query_speed``, 10 epochs on digits."""
    digits = load_digits()
    with torch.random.fork_rng(), warnings.catch_warnings():
        torch.manual_seed(seed)
        warnings.simplefilter("ignore")
        module = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                               nn.Linear(64, 10))
        net = NeuralNetClassifier(module, criterion=nn.CrossEntropyLoss,
                                  optimizer=torch.optim.Adam, lr=1e-2, max_epochs=10,
                                  batch_size=128, train_split=None, verbose=0,
                                  classes=np.arange(10))
        net.fit((digits.data / 16.0).astype(np.float32), digits.target.astype(np.int64))
    return net


def timed(call: Callable[[], object]) -> tuple[object, dict]:
    """The call's result and its wall-clock and process CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    return result, {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}


def _best(times: list[dict], scale: float = 1.0) -> dict:
    """The least disturbed of repeated timings (each measure's minimum), times ``scale``."""
    return {measure: scale * min(t[measure] for t in times) for measure in ("wall", "cpu")}


def _median(times: list[dict]) -> dict:
    return {measure: float(np.median([t[measure] for t in times])) for measure in ("wall", "cpu")}


def run(args: argparse.Namespace, log: Callable[[str], None] = print) -> dict:
    """Every measurement of the module docstring; returns them as a dict of seconds."""
    rng = np.random.default_rng(args.seed)
    result: dict = {"args": {k: v for k, v in vars(args).items() if k != "out"},
                    "load_start": os.getloadavg()}
    log(f"codes: {args.pool:,} + {args.labelled:,} digits rows through a {args.dims}-d "
        "MLPAutoencoder")
    X_pool, y_pool = digits_pool(args.pool, rng)
    X_labelled, y_labelled = digits_pool(args.labelled, rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        autoencoder = MLPAutoencoder(latent_dim=args.dims, max_epochs=5,
                                     random_state=args.seed).fit(X_labelled)
    encodings = [timed(lambda: autoencoder.transform(X_pool)) for _ in range(args.repeats)]
    Z_pool, result["encode_pool"] = encodings[0][0], _best([t for _, t in encodings])
    Z_labelled = autoencoder.transform(X_labelled)
    scale = args.pool / args.search_pool
    Z_search = Z_pool[: args.search_pool]

    log(f"full search: {args.search_pool:,} x {args.labelled:,} x {args.dims}, "
        f"{args.repeats} times each, alternating")
    after, before = [], []
    for _ in range(args.repeats):
        (after_nearest, after_distance), seconds = timed(
            lambda: nearest_labelled_index(Z_search, Z_labelled))
        after.append(seconds)
        if not args.skip_before:
            (before_nearest, before_distance), seconds = timed(
                lambda: float64_expansion_search(Z_search, Z_labelled))
            before.append(seconds)
    result["after"] = _best(after, scale)
    if before:
        result["before"] = _best(before, scale)
        result["rows_differing_nearest"] = int((before_nearest != after_nearest).sum())
        result["rows_differing_distance"] = int((before_distance != after_distance).sum())

    log(f"cache: a full search of {args.pool:,} rows, then {args.rounds} rounds of "
        f"{args.new} new labels")
    cache = LabelledDistanceCache()
    distance, result["cache_first"] = timed(
        lambda: cache.nearest_labelled_distance(Z_pool, Z_labelled))
    updates = []
    for _ in range(args.rounds):
        queried = np.argsort(-distance, kind="stable")[: args.new]  # the farthest rows
        Z_labelled = np.concatenate([Z_labelled, Z_pool[queried]])
        Z_pool = np.delete(Z_pool, queried, axis=0)
        distance, seconds = timed(
            functools.partial(cache.nearest_labelled_distance, Z_pool, Z_labelled))
        updates.append(seconds)
    result["updates"] = updates
    result["cache_searched_rows"] = cache.n_searched
    result["cache_updated_rows"] = cache.n_updated
    if updates:
        result["update"] = _median(updates)
        log("checking the last round against a full search")
        expected = nearest_labelled_index(Z_pool, Z_labelled)[1]
        result["update_equals_search"] = bool(np.array_equal(distance, expected))

    log(f"modAL entropy_sampling over {args.pool:,} x 64 float32 rows")
    net = fitted_mlp(args.seed)
    modal_entropy_sampling(net, X_pool[:2000], n_instances=ENTROPY_INSTANCES)
    _, result["entropy"] = timed(
        lambda: modal_entropy_sampling(net, X_pool, n_instances=ENTROPY_INSTANCES))
    log("ibal_sampling on the same net and pool")
    ibal_sampling(net, X_pool[:2000], n_instances=ENTROPY_INSTANCES, X_labelled=X_labelled,
                  y_labelled=y_labelled)
    result["ibal"] = _best([timed(lambda: ibal_sampling(
        net, X_pool, n_instances=ENTROPY_INSTANCES, X_labelled=X_labelled,
        y_labelled=y_labelled))[1] for _ in range(args.repeats)])
    result["loop"] = _loop(args, net, autoencoder, X_pool, y_pool, X_labelled, y_labelled, log)
    result["load_end"] = os.getloadavg()
    return result


def _loop(args: argparse.Namespace, net, autoencoder, X_pool, y_pool, X_labelled, y_labelled,
          log: Callable[[str], None]) -> list[dict]:
    """Per round: seconds of modAL's entropy_sampling and of IBAL-D with one cache."""
    rounds, cache = [], LabelledDistanceCache()
    for round_number in range(1, args.loop_rounds + 1):
        log(f"loop round {round_number}: {len(X_pool):,} pool, {len(X_labelled):,} labelled")
        _, entropy = timed(functools.partial(modal_entropy_sampling, net, X_pool,
                                             n_instances=args.new))
        (picked, _), ibal_distance = timed(functools.partial(
            ibal_distance_sampling, net, X_pool, args.new, embedding=autoencoder,
            distance_cache=cache, X_labelled=X_labelled, y_labelled=y_labelled))
        rounds.append({"entropy": entropy, "ibal_distance": ibal_distance})
        X_labelled = np.concatenate([X_labelled, X_pool[picked]])
        y_labelled = np.concatenate([y_labelled, y_pool[picked]])
        X_pool, y_pool = np.delete(X_pool, picked, axis=0), np.delete(y_pool, picked)
    return rounds


def report(result: dict) -> str:
    """A markdown table of the times and their ratios to modAL's entropy_sampling."""
    args, entropy = result["args"], result["entropy"]
    extrapolated = " (extrapolated)" if args["search_pool"] != args["pool"] else ""
    repeats = f", best of {args['repeats']}" if args["repeats"] > 1 else ""
    rows = [("modAL entropy_sampling", entropy)]
    if "before" in result:
        rows.append((f"full search, before: float64{extrapolated}{repeats}", result["before"]))
    rows += [(f"full search, after: float32 screen + float64 proof{extrapolated}{repeats}",
              result["after"]),
             ("LabelledDistanceCache, first call (full search)", result["cache_first"])]
    if "update" in result:
        rows.append((f"LabelledDistanceCache update, B = {args['new']} (median of "
                     f"{len(result['updates'])})", result["update"]))
    rows += [("MLPAutoencoder codes of the pool (context)", result["encode_pool"]),
             ("ibal_sampling, same net and pool (context)", result["ibal"])]
    if "update" in result:
        rows.append(("IBAL-D with the cache, a later round (projected: ibal_sampling + codes "
                     "+ update)", {measure: result["ibal"][measure]
                                  + result["encode_pool"][measure] + result["update"][measure]
                                  for measure in ("wall", "cpu")}))
    threads = "one thread" if args["threads"] == 1 else f"{args['threads']} threads"
    lines = [f"N = {args['pool']:,}, n = {args['labelled']:,}, k = {args['dims']}; {threads}; "
             "load average start " + " / ".join(f"{x:.2f}" for x in result["load_start"])
             + ", end " + " / ".join(f"{x:.2f}" for x in result["load_end"]), "",
             "| what | wall s | CPU s | x entropy (wall) | x entropy (CPU) |",
             "|---|---|---|---|---|"]
    lines += [f"| {name} | {t['wall']:.3f} | {t['cpu']:.3f} | {t['wall'] / entropy['wall']:.4f} "
              f"| {t['cpu'] / entropy['cpu']:.4f} |" for name, t in rows]
    lines.append("")
    if result.get("loop"):
        lines += [f"modAL-style loop, B = {args['new']} per round, one LabelledDistanceCache:", "",
                  "| round | modAL entropy_sampling wall s | IBAL-D wall s | x entropy (wall) "
                  "| x entropy (CPU) |", "|---|---|---|---|---|"]
        lines += [f"| {number} | {r['entropy']['wall']:.3f} | {r['ibal_distance']['wall']:.3f} | "
                  f"{r['ibal_distance']['wall'] / r['entropy']['wall']:.4f} | "
                  f"{r['ibal_distance']['cpu'] / r['entropy']['cpu']:.4f} |"
                  for number, r in enumerate(result["loop"], 1)]
        lines.append("")
    if "before" in result:
        lines.append(f"full search speed-up (wall / CPU): "
                     f"{result['before']['wall'] / result['after']['wall']:.2f}x / "
                     f"{result['before']['cpu'] / result['after']['cpu']:.2f}x; rows whose "
                     f"nearest row differs: {result['rows_differing_nearest']}, whose distance "
                     f"differs: {result['rows_differing_distance']}")
    if "update" in result:
        lines.append(f"update vs full search (CPU): "
                     f"{result['after']['cpu'] / result['update']['cpu']:.1f}x faster; update "
                     f"equals a full search: {result['update_equals_search']}; rows searched "
                     f"in full / updated: {result['cache_searched_rows']:,} / "
                     f"{result['cache_updated_rows']:,}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.nearest_labelled",
        description="Time the nearest-labelled search of IBAL-D before and after the float32 "
                    "screen, the LabelledDistanceCache update, and modAL's entropy_sampling "
                    "for scale.")
    parser.add_argument("--pool", type=int, default=1_000_000, help="pool rows N")
    parser.add_argument("--labelled", type=int, default=10_000, help="labelled rows n")
    parser.add_argument("--dims", type=int, default=16, help="autoencoder code dimensions k")
    parser.add_argument("--search-pool", type=int, default=None,
                        help="pool rows for the before/after full search (default: --pool); "
                             "times are scaled up to --pool")
    parser.add_argument("--new", type=int, default=100, help="new labels per cache round B")
    parser.add_argument("--rounds", type=int, default=3, help="cache update rounds")
    parser.add_argument("--loop-rounds", type=int, default=3,
                        help="rounds of the modAL-style loop timing IBAL-D with the cache")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch and BLAS/OpenMP threads for the whole run")
    parser.add_argument("--repeats", type=int, default=2,
                        help="calls of each full search (alternating), of the pool's encoding "
                             "and of ibal_sampling; the fastest is reported")
    parser.add_argument("--skip-before", action="store_true",
                        help="do not time the float64 baseline")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for result.json and report.md")
    args = parser.parse_args(argv)
    args.search_pool = min(args.pool, args.search_pool or args.pool)
    for name in ("pool", "labelled", "dims", "search_pool", "new", "threads", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1.")
    for name in ("rounds", "loop_rounds"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must be >= 0.")
    torch.set_num_threads(args.threads)
    with threadpool_limits(args.threads):
        result = run(args)
    result["machine"] = {"nproc": os.cpu_count(), "cpu": platform.processor(),
                         "numpy": np.__version__, "torch": torch.__version__}
    text = report(result)
    print(text)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "result.json").write_text(json.dumps(result, indent=2))
        (args.out / "report.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
