r"""Coverage strategies' query time against modAL's ``entropy_sampling``.

::

    python -m benchmarks.coverage_speed [--pool 100000] [--labelled 5000,100] [--batch 100]
                                        [--repeats 3] [--budget 60] [--threads 1]
                                        [--profile] [--out results/coverage_speed]

One process, one fitted skorch net (the 64-64-10 MLP of :mod:`benchmarks.workloads`)
and one float32 pool of ``--pool`` 64-d points. For each labelled-set size in
``--labelled`` it times, on the same net, pool and labelled set, a query of
``--batch`` points by modAL's ``entropy_sampling``, :func:`modal_ibal.typiclust_sampling`,
:func:`modal_ibal.ibal_cluster_sampling` (``representation='inputs'``,
``random_state=0``), :func:`modal_ibal.herding_sampling` and
:func:`modal_ibal.default_sampling` (their defaults): the median of up to ``--repeats`` calls, stopping once a
strategy's calls have used ``--budget`` seconds (:func:`benchmarks.timing.time_runs`).
Every strategy ran once on a 2,000-point pool before. ``--profile`` also writes a
cProfile listing of one TypiClust query per labelled-set size.

The report (markdown, printed and written to ``--out``/report.md) has one row per
(case, strategy): median seconds, calls, and the ratio to modAL's ``entropy_sampling``,
plus the load average before and after, since these machines are shared.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import shlex
import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from modAL.uncertainty import entropy_sampling as modal_entropy_sampling

from modal_ibal import default_sampling, herding_sampling, ibal_cluster_sampling, typiclust_sampling

from .report import load_average, machine
from .timing import thread_limit, time_runs
from .workloads import WARMUP_POOL, Workload, build_workload

ENTROPY = "modAL entropy_sampling"


def _queries(workload: Workload, n_pool: int, n_labelled: int,
             n_instances: int) -> dict[str, Callable[[], object]]:
    """The timed queries on the pool and labelled prefixes."""
    net, X_pool = workload.net, workload.pool[:n_pool]
    labelled = {"X_labelled": workload.X_labelled[:n_labelled],
                "y_labelled": workload.y_labelled[:n_labelled]}
    return {
        ENTROPY: lambda: modal_entropy_sampling(net, X_pool, n_instances=n_instances),
        "typiclust_sampling": lambda: typiclust_sampling(
            net, X_pool, n_instances, random_state=0, **labelled),
        "ibal_cluster_sampling": lambda: ibal_cluster_sampling(
            net, X_pool, n_instances, random_state=0, **labelled),
        "herding_sampling": lambda: herding_sampling(net, X_pool, n_instances, **labelled),
        "default_sampling": lambda: default_sampling(net, X_pool, n_instances, **labelled),
    }


def _profile(query: Callable[[], object], lines: int = 25) -> str:
    profiler = cProfile.Profile()
    profiler.runcall(query)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(lines)
    return out.getvalue()


def run(n_pool: int, labelled: Sequence[int], n_instances: int, *, repeats: int,
        budget_s: float, profile: bool) -> tuple[list[tuple[str, str, float, int]], list[str]]:
    """Rows (case, strategy, median seconds, calls) and the cProfile listings."""
    workload = build_workload("vector", n_pool, max(labelled))
    for query in _queries(workload, WARMUP_POOL, min(labelled), n_instances).values():
        query()
    rows, profiles = [], []
    for n_labelled in labelled:
        case = f"N={n_pool:,} n={n_labelled:,} B={n_instances}"
        queries = _queries(workload, n_pool, n_labelled, n_instances)
        for name, query in queries.items():
            runs, _ = time_runs(query, repeats, budget_s)
            rows.append((case, name, statistics.median(runs), len(runs)))
            print(f"{case}  {name}: {statistics.median(runs):.3f} s ({len(runs)} calls)",
                  flush=True)
        if profile:
            profiles.append(f"## {case}: typiclust_sampling\n\n```\n"
                            f"{_profile(queries['typiclust_sampling'])}```\n")
    return rows, profiles


def markdown(rows: list[tuple[str, str, float, int]], *, command: str, loads: tuple[str, str],
             threads: int | None) -> str:
    """One table: case, strategy, median seconds, calls, ratio to modAL's entropy."""
    entropy = {case: seconds for case, name, seconds, _ in rows if name == ENTROPY}
    info = machine()
    lines = [
        "# Coverage strategies against modAL's entropy_sampling", "",
        f"Command: `{command}`", "",
        f"Machine: {', '.join(f'{k}: {v}' for k, v in info.items())}; threads: "
        f"{threads or 'library defaults'}; load average (1/5/15 min) before {loads[0]}, "
        f"after {loads[1]}.", "",
        "| case | strategy | median s | calls | / modAL entropy |",
        "|---|---|---:|---:|---:|",
    ]
    for case, name, seconds, calls in rows:
        lines.append(f"| {case} | {name} | {seconds:.3f} | {calls} | "
                     f"{seconds / entropy[case]:.2f} |")
    return "\n".join(lines) + "\n"


def _int_list(text: str) -> list[int]:
    """Parse "5000,100" into positive ints for argparse."""
    try:
        values = [int(part.replace("_", "")) for part in text.split(",") if part]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.coverage_speed",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--pool", type=int, default=100_000, help="pool size N (default 100000)")
    p.add_argument("--labelled", type=_int_list, default=[5_000, 100],
                   help="labelled-set sizes n, comma-separated (default 5000,100)")
    p.add_argument("--batch", type=int, default=100, help="points per query B (default 100)")
    p.add_argument("--repeats", type=int, default=3, help="calls per strategy at most (default 3)")
    p.add_argument("--budget", type=float, default=60.0,
                   help="seconds of calls after which a strategy stops repeating (default 60)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch, BLAS and OpenMP threads (default 1; 0: the libraries' defaults)")
    p.add_argument("--profile", action="store_true",
                   help="also write a cProfile listing of one TypiClust query per case")
    p.add_argument("--out", type=Path, default=Path("results/coverage_speed"),
                   help="output folder (default results/coverage_speed)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    command = "python -m benchmarks.coverage_speed " + shlex.join(
        sys.argv[1:] if argv is None else list(argv))
    before = load_average()
    with thread_limit(args.threads):
        rows, profiles = run(args.pool, args.labelled, args.batch, repeats=args.repeats,
                             budget_s=args.budget, profile=args.profile)
    report = markdown(rows, command=command, loads=(before, load_average()),
                      threads=args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.md").write_text(report + "".join(f"\n{p}" for p in profiles))
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
