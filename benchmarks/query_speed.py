r"""Query speed and peak memory of the IBAL strategies against modAL's ``entropy_sampling``.

::

    python -m benchmarks.query_speed [--sizes 10000,100000,1000000] [--labelled 100,10000]
                                     [--repeats 5] [--out results/bench]

In one process and one run, on the same fitted skorch net and the same float32
pool, it times every query strategy of the library next to modAL's own
``entropy_sampling`` and next to the floor of any query: the bare batched
forward pass of the same module over the same pool under ``torch.no_grad()``.
Two pools are measured (:mod:`benchmarks.workloads`): ``vector``, 64 digits
features plus noise under an MLP, with pool sizes ``--sizes`` and labelled-set
sizes ``--labelled``; ``image``, 1 x 8 x 8 digits images plus noise under
:class:`modal_ibal.SmallCNN`, ``--image-size`` images.

What is reported, per (pool, N, n) and strategy:

time
    The median of up to ``--repeats`` calls (``--repeats-large`` from N =
    1,000,000 on) with ``time.perf_counter``, garbage collector on, one
    ``gc.collect()`` before a strategy's calls; a strategy stops repeating once
    its calls have used ``--budget`` seconds (at least one call), and the table
    says how many ran. Every strategy ran once on a small pool before (imports,
    thread pools). Strategies that do not look at the labelled set (the floor,
    modAL's entropy, the library's entropy and margin, BADGE) are timed once per
    N and shown for every n.
ratios
    to modAL's ``entropy_sampling``, to the floor, and to "floor + scoring": the
    floor plus the same strategy's work given the pool's final-layer outputs for
    free (the labelled set's forward pass, the scores, the distances, the ranking),
    i.e. what the strategy would cost if its own pass over the pool were as fast
    as the bare forward pass. It is timed only where one query took less than
    ``--budget`` seconds (there the distance search dominates both anyway), and
    only for the strategies the library can score from given outputs
    (:mod:`benchmarks.queries`: all but BADGE and the uncached autoencoder).
peak extra memory
    Resident memory a query adds at its highest point, ``VmHWM`` after a reset
    through ``/proc/self/clear_refs`` less ``VmRSS`` before (:mod:`benchmarks.memory`
    has the details); ``peak RSS`` is the whole process's ``VmHWM``. By default
    (``--memory inline``) this wraps the first timed call in the timing process
    itself; ``--memory grouped`` measures instead in a fresh child process per
    (pool, N, n) that loads the same pickled nets and saved pool and runs every
    strategy once on a small pool first, ``--memory isolated`` in one child per
    strategy too.

The run is wired from :mod:`benchmarks.workloads` (pools, nets), :mod:`benchmarks.queries`
(the strategies and their scoring given the pool's outputs), :mod:`benchmarks.timing`,
:mod:`benchmarks.memory` and :mod:`benchmarks.report`.
"""

from __future__ import annotations

import argparse
import gc
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from .memory import attach_memory, memory_supported, peak_extra
from .queries import strategies
from .report import Row, fill_ratios, load_average, machine, markdown, write_csv
from .timing import thread_limit, time_runs
from .workloads import WARMUP_POOL, Workload, build_workload, make_case

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
DEFAULT_LABELLED = (100, 10_000)
DEFAULT_IMAGE_SIZE = 50_000
DEFAULT_REPEATS = 5
DEFAULT_REPEATS_LARGE = 3
LARGE_POOL = 1_000_000
DEFAULT_BUDGET_S = 10.0


def benchmark_workload(workload: Workload, sizes: Sequence[int], labelled: Sequence[int], *,
                       repeats: int, budget_s: float, repeats_large: int | None = None,
                       memory: bool = False, log: Callable[[str], None] = print) -> list[Row]:
    """Time every strategy on every (N, n) of one pool kind.

    ``repeats_large`` replaces ``repeats`` from N = 1,000,000 on. A strategy's
    floor + scoring is timed only when its query took less than ``budget_s``.
    With ``memory``, each strategy's first timed call is wrapped in
    :func:`benchmarks.memory.peak_extra`.
    """
    chosen = strategies()
    warm = make_case(workload, min(WARMUP_POOL, min(sizes)), min(labelled), outputs=True)
    for strategy in chosen:
        strategy.query(warm)
        if strategy.scoring is not None:
            strategy.scoring(warm)
    del warm
    rows: list[Row] = []
    for n_pool in sizes:
        runs_here = repeats if repeats_large is None or n_pool < LARGE_POOL else repeats_large
        shared: dict[str, Row] = {}
        for n_labelled in labelled:
            case = make_case(workload, n_pool, n_labelled, outputs=True)
            for strategy in chosen:
                if not strategy.uses_labelled and strategy.name in shared:
                    done = shared[strategy.name]
                    row = Row(workload.kind, n_pool, n_labelled, strategy.name, done.runs,
                              done.scoring_runs, peak_extra_bytes=done.peak_extra_bytes,
                              peak_rss_bytes=done.peak_rss_bytes)
                else:
                    runs, peaks = time_runs(lambda s=strategy, c=case: s.query(c), runs_here,
                                            budget_s, probe=peak_extra if memory else None)
                    scoring_runs = []
                    if strategy.scoring is not None and statistics.median(runs) < budget_s:
                        scoring_runs, _ = time_runs(lambda s=strategy, c=case: s.scoring(c),
                                                    runs_here, budget_s)
                    row = Row(workload.kind, n_pool, n_labelled, strategy.name, runs,
                              scoring_runs)
                    if peaks is not None:
                        row.peak_extra_bytes, row.peak_rss_bytes = peaks
                    shared[strategy.name] = row
                rows.append(row)
                log(f"  {workload.kind} N={n_pool:>9,} n={n_labelled:>6,} "
                    f"{strategy.name:<50} {1e3 * statistics.median(row.runs):10.1f} ms "
                    f"({len(row.runs)} runs) peak extra {row.peak_extra_bytes / 2**20:8.1f} MB")
            del case
    fill_ratios(rows)
    return rows


def run(sizes: Sequence[int], labelled: Sequence[int], *, image_size: int, repeats: int,
        budget_s: float, memory: str, repeats_large: int | None = None, epochs: int = 10,
        threads: int | None = None,
        log: Callable[[str], None] = print) -> tuple[list[Row], list[str]]:
    """Build both workloads, time them, measure memory; returns the rows and notes."""
    rows, notes = [], []
    plan = [("vector", list(sizes))]
    if image_size > 0:
        plan.append(("image", [image_size]))
    if memory != "off" and not memory_supported():
        notes.append("/proc/self/clear_refs is not writable here: memory not measured.")
        memory = "off"
    try:
        for kind, kind_sizes in plan:
            log(f"{kind} pool: fitting the net and drawing {max(kind_sizes):,} samples")
            workload = build_workload(kind, max(kind_sizes), max(labelled), epochs=epochs)
            # the ~400,000 objects of torch, scipy, skorch and the fitted nets: the
            # gc.collect() before each strategy's runs no longer walks them (~0.1 s each)
            gc.freeze()
            kind_rows = benchmark_workload(workload, kind_sizes, labelled, repeats=repeats,
                                           budget_s=budget_s, repeats_large=repeats_large,
                                           memory=memory == "inline", log=log)
            if memory in ("grouped", "isolated"):
                attach_memory(workload, kind_rows, isolated=memory == "isolated",
                              threads=threads, log=log)
            rows += kind_rows
            del workload
    finally:
        gc.unfreeze()
    return rows, notes


def _int_list(text: str) -> list[int]:
    """Parse "10000,100_000" into positive ints for argparse."""
    try:
        values = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def parser() -> argparse.ArgumentParser:
    """The command line of ``python -m benchmarks.query_speed``."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.query_speed",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=_int_list, default=list(DEFAULT_SIZES),
                   help="vector pool sizes N (default %(default)s)")
    p.add_argument("--labelled", type=_int_list, default=list(DEFAULT_LABELLED),
                   help="labelled-set sizes n (default %(default)s)")
    p.add_argument("--image-size", type=int, default=DEFAULT_IMAGE_SIZE,
                   help="image pool size; 0 skips the image pool (default %(default)s)")
    p.add_argument("--repeats", type=int, default=DEFAULT_REPEATS,
                   help="most timed calls per strategy and case (default %(default)s)")
    p.add_argument("--repeats-large", type=int, default=DEFAULT_REPEATS_LARGE,
                   help=f"most timed calls from N = {LARGE_POOL:,} on (default %(default)s)")
    p.add_argument("--budget", type=float, default=DEFAULT_BUDGET_S,
                   help="seconds after which a strategy stops repeating (default %(default)s)")
    p.add_argument("--memory", choices=["inline", "grouped", "isolated", "off"],
                   default="inline",
                   help="peak memory around each strategy's first timed call (inline), in a "
                        "fresh child per (pool, N, n) (grouped) or per strategy too "
                        "(isolated), or not at all (default %(default)s)")
    p.add_argument("--out", type=Path, default=Path("results/bench"),
                   help="folder for query_speed.md and query_speed.csv (default %(default)s)")
    p.add_argument("--threads", type=int, default=None,
                   help="run with this many torch, BLAS and OpenMP threads (default: as the "
                        f"libraries start, torch {torch.get_num_threads()})")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the report and write query_speed.md and query_speed.csv."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser().parse_args(argv)
    with thread_limit(args.threads):
        command = "python -m benchmarks.query_speed " + shlex.join(argv)
        loads = {"start": load_average()}
        started = time.perf_counter()
        rows, notes = run(args.sizes, args.labelled, image_size=args.image_size,
                          repeats=args.repeats, repeats_large=args.repeats_large,
                          budget_s=args.budget, memory=args.memory, threads=args.threads,
                          log=lambda text: print(text, file=sys.stderr, flush=True))
        loads["end"] = load_average()
        info = machine()
    if args.threads:
        notes.append(f"--threads {args.threads}: torch.set_num_threads({args.threads}) and a "
                     f"threadpoolctl limit of {args.threads} BLAS/OpenMP threads for the whole "
                     "run, memory children included.")
    notes.append(f"Whole run: {time.perf_counter() - started:.0f} s.")
    text = markdown(rows, command=command.strip(), info=info, loads=loads, notes=notes,
                    memory=f"--memory {args.memory}")
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "query_speed.md").write_text(text + "\n")
    write_csv(rows, args.out / "query_speed.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
