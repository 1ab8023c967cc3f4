"""The modal-ibal command: run, summarize and list the experiments; label a pool for real.

::

    modal-ibal run synthetic --seeds 5 --out results/synthetic
    modal-ibal run digits --strategies random,entropy,ibal-d --rounds 3 --resume
    modal-ibal fig4 digits --out results/fig4-digits
    modal-ibal list
    modal-ibal label start work --pool pool.csv --id-column id   (then next, teach, status)

``run`` writes ``results.csv``, ``timings.csv``, ``summary.md``, ``dataset.png``
and ``curves_<metric>.png`` into ``--out`` (default ``results/<experiment>``),
keeping each finished (strategy, seed) run in ``--out/runs`` so that an
interrupted run continues with ``--resume``. ``fig4`` writes
``fig4_entropy.png``, ``fig4_confidence.png``, ``fig4_correlations.csv`` and
``fig4.md``. With ``--resume``, a damaged run file (cut short, emptied, from
another run or protocol) is named in a warning and run again; every file is
written atomically, so a failing command leaves the earlier results in place.
``summarize`` refuses a damaged ``results.csv`` or ``timings.csv``. Exit codes:
0 done, 1 a run failed, 2 bad arguments, an ``--out`` that is not a writable
folder, missing data or a damaged file, 130 interrupted.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path

from ..labelling import add_label_command, run_label_command

__all__ = ["build_parser", "main"]

_OUT_OPTION = "'--out' option"


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _nonnegative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text}")
    return value


def _test_size(text: str) -> int | float:
    return float(text) if any(mark in text for mark in ".eE") else int(text)


def _add_size_options(parser: argparse.ArgumentParser) -> None:
    sizes = parser.add_argument_group("sizes (default: the experiment's own; see 'modal-ibal list')")
    sizes.add_argument("--initial", type=_positive_int, help="initial labelled points")
    sizes.add_argument("--epochs", type=_positive_int, help="training epochs per fit")
    sizes.add_argument("--pool-size", type=_positive_int, help="pool points kept (stratified)")
    sizes.add_argument("--test-size", type=_test_size,
                       help="held-out test points (int) or fraction (float)")
    sizes.add_argument("--threads", type=_positive_int, help="torch threads while running")
    parser.add_argument("--data-dir", help="folder of the data set (cifar100: holds "
                        "cifar-100-python/; fashion-mnist: the IDX files)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``modal-ibal``."""
    from ._catalogue import EXPERIMENTS

    parser = argparse.ArgumentParser(
        prog="modal-ibal",
        description="Active-learning experiments with IBAL and its baselines on modAL, and a "
                    "labelling loop for real pools ('modal-ibal label').",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run strategies x seeds x rounds, write CSV, table, PNGs")
    run.add_argument("experiment", choices=list(EXPERIMENTS))
    run.add_argument("--seeds", type=_positive_int, default=5, help="seeds 0..N-1 (default 5)")
    run.add_argument("--out", help="output folder (default results/<experiment>)")
    run.add_argument("--strategies", help="comma-separated names (default: the experiment's)")
    run.add_argument("--resume", action="store_true",
                     help="keep finished runs found in <out>/runs and run only the rest")
    run.add_argument("--rounds", type=_nonnegative_int, help="query rounds after the initial fit")
    run.add_argument("--batch", type=_positive_int, help="labels bought per round (B)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--reference",
                     help="strategy of the paired ΔAULC column (default random, when run)")
    _add_size_options(run)

    fig4 = commands.add_parser("fig4", help="paper Fig. 4: IBAL vs entropy and confidence")
    fig4.add_argument("experiment", choices=list(EXPERIMENTS))
    fig4.add_argument("--out", help="output folder (default results/fig4-<experiment>)")
    fig4.add_argument("--seed", type=_nonnegative_int, default=0,
                      help="seed of the split and of the model (default 0)")
    fig4.add_argument("--reading", help="IBAL reading (default: the library's default)")
    _add_size_options(fig4)

    summarize = commands.add_parser(
        "summarize", help="rewrite summary.md from an output folder's results.csv")
    summarize.add_argument("out", help="output folder of a 'run'")
    summarize.add_argument("--reference",
                           help="strategy of the paired ΔAULC column (default random, when run)")

    commands.add_parser("list", help="show the strategies and experiments")
    add_label_command(commands)
    return parser


def _spec(args: argparse.Namespace):
    from ._catalogue import get_experiment

    return get_experiment(args.experiment).with_overrides(
        rounds=getattr(args, "rounds", None), initial=args.initial,
        batch=getattr(args, "batch", None), epochs=args.epochs, pool_size=args.pool_size,
        test_size=args.test_size, data_dir=args.data_dir, threads=args.threads,
    )


def _reference(requested: str | None, strategies) -> str:
    """The paired column's strategy: an explicit choice must be among the strategies."""
    names = [strategies] if isinstance(strategies, str) else list(strategies)
    names = [name for entry in names for name in str(entry).split(",")]
    if requested is not None and requested not in names:
        raise ValueError(
            f"The '--reference' option must name a strategy in the results. Got {requested!r}; "
            f"the results hold {sorted(set(names))}."
        )
    return requested or "random"


def _run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from ._figures import write_figures
    from ._files import check_folder
    from ._results import write_summary
    from ._runner import run_experiment

    spec = _spec(args)
    out = args.out or f"results/{spec.name}"
    strategies = args.strategies if args.strategies is not None else spec.strategies
    reference = _reference(args.reference, strategies)
    check_folder(out, _OUT_OPTION)
    result = run_experiment(spec, strategies, args.seeds, out, resume=args.resume,
                            progress=not args.no_progress)
    command = "modal-ibal " + shlex.join(argv)
    summary = write_summary(out, result.results, result.timings, title=spec.name,
                            command=command, reference=reference)
    data = spec.load_data()
    figures = write_figures(out, result.results, data.X, data.y, title=spec.name,
                            reference=reference)
    resumed = f" ({result.n_resumed} runs resumed from disk)" if result.n_resumed else ""
    print(f"{spec.name}: {result.results['strategy'].nunique()} strategies x "
          f"{result.results['seed'].nunique()} seeds{resumed}")
    for path in [out + "/results.csv", out + "/timings.csv", summary, *figures]:
        print(f"wrote {path}")
    return 0


def _summarize(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from ._files import SCORE_METRICS, TIMING_METRICS, check_folder, read_protocol, read_rows
    from ._results import write_summary

    results_path = Path(args.out) / "results.csv"
    if not results_path.is_file():
        raise FileNotFoundError(f"No results.csv in {args.out}: run 'modal-ibal run' first.")
    protocol = read_protocol(args.out)
    results = read_rows(results_path, SCORE_METRICS, protocol).astype({"value": float})
    timings_path = Path(args.out) / "timings.csv"
    timings = (read_rows(timings_path, TIMING_METRICS, protocol).astype({"value": float})
               if timings_path.is_file() else None)
    check_folder(args.out, "'out' argument")
    reference = _reference(args.reference, results["strategy"].unique())
    title = ", ".join(sorted(results["experiment"].unique()))
    path = write_summary(args.out, results, timings, title=title,
                         command="modal-ibal " + shlex.join(argv), reference=reference)
    print(f"wrote {path}")
    return 0


def _fig4(args: argparse.Namespace) -> int:
    from ._fig4 import ibal_vs_uncertainty, rank_correlations, write_correlations
    from ._figures import write_fig4_figures
    from ._files import check_folder

    spec = _spec(args)
    out = args.out or f"results/fig4-{spec.name}"
    check_folder(out, _OUT_OPTION)
    options = {} if args.reading is None else {"reading": args.reading}
    scores = ibal_vs_uncertainty(spec, args.seed, **options)
    correlations = rank_correlations(scores)
    title = f"{spec.name}, {spec.n_initial} labels, seed {args.seed}"
    paths = write_correlations(out, correlations, title=f"Fig. 4: {title}")
    paths += write_fig4_figures(out, scores, correlations, title=spec.name)
    print(correlations.to_string(float_format=lambda value: f"{value:.3g}"))
    for path in paths:
        print(f"wrote {path}")
    return 0


def _list() -> int:
    from ..strategies import STRATEGIES
    from ._catalogue import EXPERIMENTS

    print("strategies:")
    width = max(map(len, STRATEGIES))
    for name, entry in STRATEGIES.items():
        print(f"  {name:<{width}}  {entry.description}")
    print("\nexperiments:")
    width = max(map(len, EXPERIMENTS))
    for name, spec in EXPERIMENTS.items():
        print(f"  {name:<{width}}  {spec.description}")
        print(f"  {'':<{width}}  initial={spec.n_initial} batch={spec.batch_size} "
              f"rounds={spec.n_rounds} epochs={spec.epochs} test_size={spec.test_size} "
              f"pool_size={spec.pool_size}")
        print(f"  {'':<{width}}  strategies: {','.join(spec.strategies)}")
    return 0


def _repair_hint(path: Path) -> str:
    """What to do about a damaged file, by its name."""
    if path.name in ("results.csv", "timings.csv"):
        return ("It is assembled from the run files: run the same 'modal-ibal run' command "
                "with --resume to write it again.")
    if path.name == "protocol.json":
        return ("It records the settings of the runs next to it: delete it to resume with "
                "the current settings, or use another --out folder.")
    return "Delete it and run the same command with --resume."


def _run_folder(args: argparse.Namespace) -> str:
    """The folder ``run`` writes to: ``--out``, else ``results/<experiment>``."""
    return getattr(args, "out", None) or f"results/{args.experiment}"


def _interrupted(args: argparse.Namespace) -> str:
    """The one line printed on Ctrl-C; ``run`` says where its finished runs are."""
    if args.command != "run":
        return "modal-ibal: interrupted."
    return (f"modal-ibal: interrupted. Finished runs are in {_run_folder(args)}/runs; run the "
            "same command with --resume to continue.")


def _show_warning(show):
    """``warnings.showwarning`` that prints damaged-run warnings as one line each."""
    from ._files import DamagedRunWarning

    def showwarning(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, DamagedRunWarning):
            print(f"modal-ibal: warning: {message}", file=sys.stderr)
        else:
            show(message, category, filename, lineno, file, line)

    return showwarning


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``modal-ibal`` with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    import matplotlib

    matplotlib.use("Agg")
    from ._files import DamagedFileError
    from ._runner import RunFailedError

    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning(warnings.showwarning)
            if args.command == "run":
                return _run(args, argv)
            if args.command == "fig4":
                return _fig4(args)
            if args.command == "summarize":
                return _summarize(args, argv)
            if args.command == "label":
                return run_label_command(args)
            return _list()
    except KeyboardInterrupt:
        print(_interrupted(args), file=sys.stderr)
        return 130
    except RunFailedError as error:
        traceback.print_exception(error.__cause__, file=sys.stderr)
        print(f"modal-ibal: error: {error}\nFinished runs are kept in {_run_folder(args)}/runs; "
              "fix the problem and run the same command with --resume.", file=sys.stderr)
        return 1
    except DamagedFileError as error:
        print(f"modal-ibal: error: {error} {_repair_hint(error.path)}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, FileNotFoundError) as error:
        print(f"modal-ibal: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
