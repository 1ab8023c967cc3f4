"""``modal-ibal label``: a labelling loop driven from CSV or Parquet files, no code needed.

::

    modal-ibal label start work/ --pool pool.csv --id-column id
    modal-ibal label next work/ --out batch.csv          # or tasks.json for Label Studio
    modal-ibal label teach work/ batch.csv               # the filled-in file, or an export
    modal-ibal label status work/ --validation valid.csv --label-column species

The folder holds the loop's state (:mod:`modal_ibal.labelling._state`); every
command reads the pool file again and refuses it when it is not the pool the loop
started from.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ._answers import SKIP
from ._curve import learning_curve, write_learning_curve
from ._files import read_answer_file, read_table, write_batch
from ._label_studio import label_studio_config
from ._loop import LabellingLoop
from ._models import TABULAR_MODELS, tabular_model
from ._state import load_state

__all__ = ["add_label_command", "run_label_command"]


def add_label_command(commands) -> None:
    """Add the ``label`` sub-command and its actions to ``modal-ibal``'s sub-parsers."""
    from ..strategies import STRATEGIES

    label = commands.add_parser(
        "label", help="label a CSV or Parquet pool for real: next batch, teach, status",
        description="A resumable labelling loop over a table whose rows have ids.")
    actions = label.add_subparsers(dest="action", required=True)

    start = actions.add_parser("start", help="start a loop in a folder from a pool file")
    start.add_argument("state", help="folder that keeps the loop's state")
    start.add_argument("--pool", required=True, help="CSV or Parquet file of the pool")
    start.add_argument("--id-column", required=True, help="the column of unique point ids")
    start.add_argument("--features", help="comma-separated feature columns (default: every "
                       "other numeric column)")
    start.add_argument("--strategy", default="default", choices=list(STRATEGIES),
                       help="query strategy (default: default)")
    start.add_argument("--model", default="logistic", choices=list(TABULAR_MODELS),
                       help="; ".join(f"{name}: {text}" for name, text in TABULAR_MODELS.items()))
    start.add_argument("--batch", type=int, default=20, help="points per batch (default 20)")
    start.add_argument("--classes", help="comma-separated allowed labels (default: any; "
                       "new classes are added as they arrive)")
    start.add_argument("--budget", type=int, help="labels to spend in all (a stopping signal)")
    start.add_argument("--seed", type=int, default=0, help="seed of the stop set and queries")

    next_ = actions.add_parser("next", help="write the next batch for labellers")
    next_.add_argument("state")
    next_.add_argument("--out", required=True, help="batch file: .csv, .parquet, or .json "
                       "(Label Studio tasks)")
    next_.add_argument("--size", type=int, help="points in the batch (default: the loop's)")

    teach = actions.add_parser("teach", help="read labels back from filled-in batch files "
                               "or Label Studio JSON exports")
    teach.add_argument("state")
    teach.add_argument("files", nargs="+", help=f"answer files; an empty label is 'not yet', "
                       f"'{SKIP}' a skipped point")
    teach.add_argument("--id-column", default="id")
    teach.add_argument("--label-column", default="label")

    status = actions.add_parser("status", help="labels so far, classes, stopping signals")
    status.add_argument("state")
    status.add_argument("--validation", help="labelled CSV/Parquet with the pool's features")
    status.add_argument("--label-column", default="label", help="label column of --validation")
    status.add_argument("--plot", help="learning-curve PNG (default <state>/learning_curve.png)")

    config = actions.add_parser("studio-config", help="write a Label Studio labelling config")
    config.add_argument("--classes", required=True, help="comma-separated class names")
    config.add_argument("--out", required=True, help="XML file to write")


def _split(text: str | None) -> list[str] | None:
    return None if text is None else [part.strip() for part in text.split(",") if part.strip()]


def _open_loop(state: str) -> LabellingLoop:
    from ..strategies import get_strategy

    state_content = load_state(state)
    settings = {**state_content["options"], **state_content["settings"]}
    frame = read_table(settings["pool_file"], "the pool file")
    return LabellingLoop.resume(
        state, frame, id_column=settings["id_column"], feature_columns=settings["features"],
        estimator=tabular_model(settings["model"], settings["random_state"]),
        strategy=get_strategy(settings["strategy"]).resolve())


def _start(args) -> int:
    from ..strategies import get_strategy

    if Path(args.state, "labelling_state.json").exists():
        raise ValueError(f"{args.state} already holds a loop; continue it with 'next'/'teach', "
                         "or start in another folder.")
    frame = read_table(args.pool, "the pool file")
    loop = LabellingLoop(
        frame, id_column=args.id_column, feature_columns=_split(args.features),
        estimator=tabular_model(args.model, args.seed),
        strategy=get_strategy(args.strategy).resolve(), batch_size=args.batch,
        classes=_split(args.classes), budget=args.budget, random_state=args.seed,
        settings={"pool_file": str(Path(args.pool).resolve()), "id_column": args.id_column,
                  "model": args.model, "strategy": args.strategy})
    loop.settings["features"] = loop.pool.feature_names
    loop.save(args.state)
    print(f"started a loop over {len(loop.pool)} points ({len(loop.pool.feature_names)} "
          f"features) in {args.state}; next: modal-ibal label next {args.state} --out batch.csv")
    return 0


def _next(args) -> int:
    loop = _open_loop(args.state)
    batch = loop.next_batch(args.size)
    path = write_batch(args.out, batch, loop.pool,
                       model_version=f"modal-ibal {loop.settings['strategy']}")
    loop.save(args.state)
    if path.suffix.lower() == ".json":
        print(f"wrote {len(batch)} Label Studio tasks to {path}: import them into a project "
              "whose config 'modal-ibal label studio-config' wrote, sort by prediction score, "
              f"label, export as JSON and run: modal-ibal label teach {args.state} <export>.json")
    else:
        print(f"wrote {len(batch)} points to {path}, best first; fill in the label column (empty: "
              f"not yet, '{SKIP}': skip) and run: modal-ibal label teach {args.state} {path}")
    return 0


def _teach(args) -> int:
    loop = _open_loop(args.state)
    for path in args.files:  # each file is checked whole before anything is taught
        answers = read_answer_file(path, id_column=args.id_column,
                                   label_column=args.label_column)
        report = loop.teach(answers)
        grown = f"; new classes {report['new_classes']}" if report["new_classes"] else ""
        print(f"{path}: {report['labelled']} labelled, {report['skipped']} skipped, "
              f"{report['unchanged']} already known, {report['pending']} not yet{grown}")
        loop.save(args.state)
    _print_signals(loop.status())
    return 0


def _print_signals(status: dict) -> None:
    for name, signal in status["signals"].items():
        value = "n/a" if signal["value"] is None else f"{signal['value']:.3f}"
        print(f"  {name:<24} {value:>8}  {'STOP' if signal['stop'] else 'go on'}")
    if status["stop"]:
        print(f"stopping suggested by: {', '.join(status['stop'])}")


def _status(args) -> int:
    loop = _open_loop(args.state)
    status = loop.status()
    print(f"labels: {status['n_labelled']} of {status['n_pool']} points "
          f"({status['n_skipped']} skipped, {status['n_batches']} batches handed out)")
    print(f"classes found: {status['n_classes']}")
    for label, count in status["per_class"].items():
        print(f"  {label!s:<24} {count:>8}")
    if status["signals"]:
        print("stopping signals after the last teach:")
        _print_signals(status)
    if args.validation:
        frame = read_table(args.validation, "the validation file")
        missing = [column for column in [*loop.pool.feature_names, args.label_column]
                   if column not in frame.columns]
        if missing:
            raise ValueError(f"{args.validation} lacks columns {missing}.")
        curve = learning_curve(loop, frame[loop.pool.feature_names].to_numpy(),
                               frame[args.label_column].to_numpy())
        if curve.empty:
            print("no labels yet: no learning curve")
            return 0
        last = curve.iloc[-1]
        print(f"validation: accuracy {last['accuracy']:.3f}, balanced accuracy "
              f"{last['balanced_accuracy']:.3f} at {int(last['n_labelled'])} labels")
        plot = args.plot or str(Path(args.state) / "learning_curve.png")
        print(f"wrote {write_learning_curve(plot, curve, title=Path(args.state).name)}")
    return 0


def _studio_config(args) -> int:
    from .._utils.atomic import write_atomic

    path = write_atomic(args.out, label_studio_config(_split(args.classes)))
    print(f"wrote {path}: paste it as the project's labelling config in Label Studio")
    return 0


def run_label_command(args: argparse.Namespace) -> int:
    """Run the ``label`` action of parsed ``args``; return the exit code."""
    action = {"start": _start, "next": _next, "teach": _teach, "status": _status,
              "studio-config": _studio_config}[args.action]
    return action(args)
