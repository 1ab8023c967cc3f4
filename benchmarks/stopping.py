r"""Stopping criteria measured as the literature measures them: stop points on full learning curves.

For every data set of the peer benchmark and its long-tailed versions, and every
seed, one modAL loop with :func:`modal_ibal.default_sampling` runs three times the
benchmark's rounds (the same splits, nets and seeds as ``benchmarks.rare_classes``).
After the initial fit and after every round it records the test accuracy and
balanced accuracy, and the value of every criterion of :mod:`modal_ibal.stopping`:
Cohen's kappa and the class-balanced agreement between successive models'
predictions on a fixed stop set (500 pool points), the mean normalised entropy
there, and the coverage the next batch would win (points' worth of mass per
label). A criterion's stop point on a seed is the first round at which it fires
(the end of the curve when it never does); the table gives the labels used there
and the accuracy and balanced accuracy at the stop point minus those at the end
of the curve (paired over seeds, mean ± standard error), for a few thresholds
each. Each (data set, seed) curve is saved as it finishes and kept on the next
call::

    python -m benchmarks.stopping --seeds 10 --out results/stopping
    python -m benchmarks.stopping --out results/stopping --report-only
"""

from __future__ import annotations

import argparse
import datetime
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from modal_ibal import default_sampling
from modal_ibal.experiments._files import write_atomic
from modal_ibal.experiments._runner import score_predictions
from modal_ibal.experiments._seeds import QUERY, derive_seed
from modal_ibal.experiments._specs import ExperimentSpec
from modal_ibal.stopping import (
    CoverageSaturation,
    OverallUncertainty,
    StabilizingPredictions,
    rule_fires,
)

from .long_tail import LONG_TAILED
from .rare_classes import dataset_spec

DATASETS = ("synthetic", "breast-cancer", "digits", "shuttle", "fashion-mnist", *LONG_TAILED)
STOP_SET = 500
COLUMNS = ("round", "n_labelled", "accuracy", "balanced_accuracy", "kappa",
           "balanced_agreement", "uncertainty", "coverage_gain")
# (criterion, signal column, comparison, threshold, window): the rules read off each curve
RULES = (
    ("kappa >= 0.99 (3)", "kappa", ">=", 0.99, 3),
    ("kappa >= 0.95 (3)", "kappa", ">=", 0.95, 3),
    ("balanced agreement >= 0.99 (3)", "balanced_agreement", ">=", 0.99, 3),
    ("balanced agreement >= 0.95 (3)", "balanced_agreement", ">=", 0.95, 3),
    ("balanced agreement >= 0.9 (3)", "balanced_agreement", ">=", 0.90, 3),
    ("uncertainty <= 0.01", "uncertainty", "<=", 0.01, 1),
    ("uncertainty <= 0.02", "uncertainty", "<=", 0.02, 1),
    ("uncertainty <= 0.05", "uncertainty", "<=", 0.05, 1),
    ("uncertainty <= 0.1", "uncertainty", "<=", 0.10, 1),
    ("uncertainty <= 0.2", "uncertainty", "<=", 0.20, 1),
    ("coverage gain <= 1.25", "coverage_gain", "<=", 1.25, 1),
    ("coverage gain <= 1.5", "coverage_gain", "<=", 1.5, 1),
    ("coverage gain <= 2", "coverage_gain", "<=", 2.0, 1),
    ("coverage gain <= 0.5 x first", "coverage_ratio", "<=", 0.5, 1),
    ("coverage gain <= 0.25 x first", "coverage_ratio", "<=", 0.25, 1),
    ("coverage gain <= 0.1 x first", "coverage_ratio", "<=", 0.1, 1),
)
# the rules drawn on the figure: the library's defaults
MARKED = {"kappa >= 0.99 (3)": "o", "balanced agreement >= 0.99 (3)": "s",
          "uncertainty <= 0.01": "^", "coverage gain <= 1.5": "D"}


def long_spec(name: str, factor: int = 3) -> ExperimentSpec:
    """The data set's benchmark settings with ``factor`` times its rounds."""
    spec = dataset_spec(name)
    return spec.with_overrides(rounds=spec.n_rounds * factor)


def run_curve(spec: ExperimentSpec, data, seed: int) -> pd.DataFrame:
    """One learning curve of ``default_sampling`` with every criterion's value after each round."""
    from modAL.models import ActiveLearner

    split = spec.split(data, seed)
    stop_rows = np.random.RandomState(derive_seed(seed, QUERY, 0)).choice(
        len(split.y_pool), min(STOP_SET, len(split.y_pool)), replace=False)
    X_stop = split.X_pool[stop_rows]
    criteria = {
        "kappa": StabilizingPredictions(X_stop, agreement="kappa"),
        "balanced_agreement": StabilizingPredictions(X_stop, agreement="class-balanced"),
        "uncertainty": OverallUncertainty(X_stop),
        "coverage_gain": CoverageSaturation(spec.batch_size),
    }
    labelled = np.zeros(len(split.y_pool), dtype=bool)
    labelled[split.initial] = True
    learner = ActiveLearner(estimator=spec.build_model(seed), query_strategy=default_sampling,
                            X_training=split.X_pool[split.initial],
                            y_training=split.y_pool[split.initial])
    rows = []
    for round_ in range(spec.n_rounds + 1):
        if round_ > 0:
            candidates = np.flatnonzero(~labelled)
            indices, _ = learner.query(split.X_pool[candidates], n_instances=spec.batch_size,
                                       random_state=derive_seed(seed, QUERY, round_))
            chosen = candidates[indices]
            labelled[chosen] = True
            learner.teach(split.X_pool[chosen], split.y_pool[chosen])
        scores = score_predictions(split.y_test, learner.predict(split.X_test))
        X_unlabelled = split.X_pool[~labelled]
        for criterion in criteria.values():
            criterion.update(learner, X_unlabelled)
        rows.append((round_, int(labelled.sum()), scores["accuracy"],
                     scores["balanced_accuracy"],
                     *(criterion.history_[-1].value for criterion in criteria.values())))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _curve_file(out: Path, name: str, seed: int) -> Path:
    return out / name / f"seed{seed}.csv"


def read_curve(path: Path, n_rounds: int) -> pd.DataFrame | None:
    """A saved curve, or None when it is missing or not a whole curve of ``n_rounds`` rounds."""
    try:
        frame = pd.read_csv(path)
    except (FileNotFoundError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    if tuple(frame.columns) != COLUMNS or frame["round"].tolist() != list(range(n_rounds + 1)):
        return None
    return frame.assign(coverage_ratio=frame["coverage_gain"] / frame["coverage_gain"].iloc[0])


def stop_round(values: np.ndarray, comparison: str, threshold: float, window: int) -> int | None:
    """The first round at which the rule fires (:func:`modal_ibal.stopping.rule_fires`, the
    criteria's own rule), or None."""
    for round_ in range(len(values)):
        if rule_fires(values[: round_ + 1], threshold, window=window,
                      at_most=comparison == "<="):
            return round_
    return None


def stopping_table(curves: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """Per rule: labels at the stop point, and accuracy and balanced accuracy minus the end's.

    Parameters
    ----------
    curves : dict of seed -> DataFrame with columns :data:`COLUMNS`

    Returns
    -------
    pandas.DataFrame
        Index rule; columns ``labels``, ``labels_se``, ``fired`` (share of seeds on
        which it fired before the end), ``d_accuracy``, ``d_accuracy_se``,
        ``d_balanced_accuracy``, ``d_balanced_accuracy_se``; a first row
        ``end of curve`` gives the labels and scores there.
    """
    rows = {}
    ends = {seed: curve.iloc[-1] for seed, curve in curves.items()}
    rows["end of curve"] = _summary(list(ends.values()), list(ends.values()), [True] * len(ends))
    for name, column, comparison, threshold, window in RULES:
        stops, fired = [], []
        for curve in curves.values():
            found = stop_round(curve[column].to_numpy(), comparison, threshold, window)
            fired.append(found is not None)
            stops.append(curve.iloc[found if found is not None else -1])
        rows[name] = _summary(stops, list(ends.values()), fired)
    return pd.DataFrame(rows).T


def _summary(stops: list[pd.Series], ends: list[pd.Series], fired: list[bool]) -> dict:
    def mean_se(values: np.ndarray) -> tuple[float, float]:
        spread = values.std(ddof=1) / np.sqrt(values.size) if values.size > 1 else np.nan
        return float(values.mean()), float(spread)

    labels = np.array([stop["n_labelled"] for stop in stops], dtype=float)
    result = {"labels": mean_se(labels)[0], "labels_se": mean_se(labels)[1],
              "fired": float(np.mean(fired))}
    for metric in ("accuracy", "balanced_accuracy"):
        stop_values = np.array([stop[metric] for stop in stops])
        end_values = np.array([end[metric] for end in ends])
        result[metric] = float(stop_values.mean())
        result[f"d_{metric}"], result[f"d_{metric}_se"] = mean_se(stop_values - end_values)
    return result


def _markdown(name: str, spec: ExperimentSpec, table: pd.DataFrame, n_seeds: int) -> list[str]:
    end = table.loc["end of curve"]
    lines = [f"### {name}", "",
             f"{spec.n_initial} initial labels, B={spec.batch_size}, {spec.n_rounds} rounds "
             f"(up to {int(spec.budgets[-1])} labels), default_sampling; {n_seeds} seeds. End of "
             f"the curve: accuracy {end['accuracy']:.3f}, balanced accuracy "
             f"{end['balanced_accuracy']:.3f}.", "",
             "| criterion | labels at stop | fired | accuracy at stop | Δ accuracy vs end "
             "| Δ balanced accuracy vs end |",
             "|---|---|---|---|---|---|"]
    for rule, row in table.drop(index="end of curve").iterrows():
        lines.append(
            f"| {rule} | {row['labels']:.0f} ± {row['labels_se']:.0f} | {row['fired']:.0%} | "
            f"{row['accuracy']:.3f} | {row['d_accuracy']:+.3f} ± {row['d_accuracy_se']:.3f} | "
            f"{row['d_balanced_accuracy']:+.3f} ± {row['d_balanced_accuracy_se']:.3f} |")
    return [*lines, ""]


def overall_table(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per rule, over data sets: mean share of the end's labels used, mean Δ scores, worst Δ."""
    rows = {}
    for rule in [name for name, *_ in RULES]:
        share = [table.loc[rule, "labels"] / table.loc["end of curve", "labels"]
                 for table in tables.values()]
        d_acc = [table.loc[rule, "d_accuracy"] for table in tables.values()]
        d_bacc = [table.loc[rule, "d_balanced_accuracy"] for table in tables.values()]
        fired = [table.loc[rule, "fired"] for table in tables.values()]
        rows[rule] = {"label_share": np.mean(share), "fired": np.mean(fired),
                      "d_accuracy": np.mean(d_acc), "worst_d_accuracy": np.min(d_acc),
                      "d_balanced_accuracy": np.mean(d_bacc),
                      "worst_d_balanced_accuracy": np.min(d_bacc)}
    return pd.DataFrame(rows).T


def write_figure(out: Path, curves: dict[str, dict[int, pd.DataFrame]]) -> Path:
    """Mean accuracy curves per data set, each default criterion's mean stop point marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(curves)
    n_cols = 3
    n_rows = -(-len(names) // n_cols)
    figure, axes = plt.subplots(n_rows, n_cols, figsize=(4.2 * n_cols, 3.2 * n_rows),
                                squeeze=False)
    for axis, name in zip(axes.flat, names, strict=False):
        frames = list(curves[name].values())
        labels = frames[0]["n_labelled"].to_numpy()
        accuracy = np.mean([frame["accuracy"].to_numpy() for frame in frames], axis=0)
        axis.plot(labels, accuracy, color="black", lw=1.5, label="accuracy (mean)")
        for (rule, column, comparison, threshold, window) in RULES:
            if rule not in MARKED:
                continue
            points = []
            for frame in frames:
                found = stop_round(frame[column].to_numpy(), comparison, threshold, window)
                stop = frame.iloc[found if found is not None else -1]
                points.append((stop["n_labelled"], stop["accuracy"]))
            x, y = np.mean(points, axis=0)
            axis.plot(x, y, MARKED[rule], ms=8, mfc="none", mew=1.8, label=rule)
        axis.set_title(name)
        axis.set_xlabel("labels")
        axis.set_ylabel("test accuracy")
    for axis in list(axes.flat)[len(names):]:
        axis.axis("off")
    axes.flat[0].legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    path = out / "stopping.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def report(out: Path, names: Sequence[str], seeds: Sequence[int]) -> Path | None:
    """Write ``stopping.md`` and ``stopping.png`` from the curves on disk (whole seeds only)."""
    tables, all_curves, lines = {}, {}, ["# Stopping criteria on full learning curves", ""]
    for name in names:
        spec = long_spec(name)
        curves = {seed: curve for seed in seeds
                  if (curve := read_curve(_curve_file(out, name, seed), spec.n_rounds))
                  is not None}
        if len(curves) < 2:
            continue
        tables[name], all_curves[name] = stopping_table(curves), curves
        lines += _markdown(name, spec, tables[name], len(curves))
    if not tables:
        return None
    overall = overall_table(tables)
    lines += ["### Over the data sets", "",
              f"Means over {len(tables)} data sets of each set's mean: the share of the "
              "end's labels used, the share of seeds on which the rule fired, Δ accuracy and Δ "
              "balanced accuracy at the stop point against the end, and the worst set's Δ.", "",
              "| criterion | labels used | fired | Δ accuracy | worst | Δ balanced accuracy "
              "| worst |", "|---|---|---|---|---|---|---|"]
    for rule, row in overall.iterrows():
        lines.append(f"| {rule} | {row['label_share']:.0%} | {row['fired']:.0%} | "
                     f"{row['d_accuracy']:+.3f} | {row['worst_d_accuracy']:+.3f} | "
                     f"{row['d_balanced_accuracy']:+.3f} | "
                     f"{row['worst_d_balanced_accuracy']:+.3f} |")
    lines += ["", "### The library's defaults, per data set", "",
              "Labels at the stop point (share of seeds on which the rule fired) and Δ balanced "
              "accuracy against the end of the curve (mean ± standard error over seeds).", "",
              "| data set | end | " + " | ".join(MARKED) + " |",
              "|---|---|" + "---|" * len(MARKED)]
    for name, table in tables.items():
        cells = [f"{table.loc[rule, 'labels']:.0f} ({table.loc[rule, 'fired']:.0%}), "
                 f"{table.loc[rule, 'd_balanced_accuracy']:+.3f} ± "
                 f"{table.loc[rule, 'd_balanced_accuracy_se']:.3f}" for rule in MARKED]
        lines.append(f"| {name} | {table.loc['end of curve', 'labels']:.0f} | "
                     + " | ".join(cells) + " |")
    write_figure(out, all_curves)
    path = out / "stopping.md"
    write_atomic(path, "\n".join(lines) + "\n")
    return path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.stopping",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--out", default="results/stopping")
    parser.add_argument("--report-only", action="store_true", help="run nothing, write the report")
    parser.add_argument("--stop-at", help="HH:MM (UTC): start no new curve after this time")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    names = [name for name in args.datasets.split(",") if name]
    unknown = sorted(set(names) - set(DATASETS))
    if unknown:
        print(f"unknown data sets {unknown}; known: {', '.join(DATASETS)}", file=sys.stderr)
        return 2
    out, seeds = Path(args.out), list(range(args.seeds))
    stop_at = None
    if args.stop_at:
        hour, minute = map(int, args.stop_at.split(":"))
        now = datetime.datetime.now(datetime.UTC)
        stop_at = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if not args.report_only:
        for seed in seeds:  # seeds outermost: every data set gets its first seeds first
            for name in names:
                spec = long_spec(name)
                path = _curve_file(out, name, seed)
                if read_curve(path, spec.n_rounds) is not None:
                    continue
                if stop_at and datetime.datetime.now(datetime.UTC) >= stop_at:
                    break
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    curve = run_curve(spec, spec.load_data(), seed)
                write_atomic(path, curve.to_csv(index=False))
                print(f"{name} seed {seed}: {len(curve)} rounds", flush=True)
    path = report(out, names, seeds)
    print(f"wrote {path}" if path else "no whole curves yet")
    return 0


if __name__ == "__main__":
    sys.exit(main())
