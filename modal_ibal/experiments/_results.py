r"""From result rows to numbers: AULC per run, mean and spread over seeds, markdown tables.

Input is the long table the runner writes (``results.csv``: one row per
experiment, strategy, seed, round, n_labelled, metric, value). Nothing here
trains or plots.

The area under the learning curve of one run, normalised by the label range,

.. math::  \mathrm{AULC} = \frac{1}{n_K - n_0} \sum_{k=1}^{K}
           (n_k - n_{k-1}) \, \frac{a_{k-1} + a_k}{2}

(trapezoid rule over the budgets :math:`n_0 < \dots < n_K` with scores
:math:`a_k`), is the curve's mean score, in [0, 1] for scores in [0, 1]; a run
with one budget has AULC :math:`a_0`. Spreads are sample standard deviations
over seeds (``ddof=1``); with one seed none is shown.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..metrics import aulc
from ._files import write_atomic

__all__ = [
    "aulc",
    "aulc_table",
    "learning_curves",
    "summary_markdown",
    "write_summary",
]

_METRIC_TITLES = {
    "accuracy": "Accuracy",
    "balanced_accuracy": "Balanced accuracy",
    "macro_f1": "Macro-F1",
    "classes_found": "Classes found",
}
DEFAULT_REFERENCE = "random"


def aulc_table(results: pd.DataFrame) -> pd.DataFrame:
    """AULC of every run and metric.

    Parameters
    ----------
    results : pandas.DataFrame
        The runner's rows (columns experiment, strategy, seed, n_labelled, metric, value).

    Returns
    -------
    pandas.DataFrame
        Columns experiment, strategy, seed, metric, aulc; one row per run and metric.
    """
    keys = ["experiment", "strategy", "seed", "metric"]
    rows = [
        (*key, aulc(group["n_labelled"], group["value"]))
        for key, group in results.groupby(keys, sort=True)
    ]
    return pd.DataFrame(rows, columns=[*keys, "aulc"])


def learning_curves(results: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Mean and standard deviation over seeds of ``metric`` at each budget, per strategy.

    Returns
    -------
    pandas.DataFrame
        Columns strategy, n_labelled, mean, std (NaN with one seed), n_seeds.

    Raises
    ------
    ValueError
        When ``results`` has no rows for ``metric``.
    """
    rows = results[results["metric"] == metric]
    if rows.empty:
        raise ValueError(
            f"The 'metric' parameter must be one of {sorted(results['metric'].unique())}. "
            f"Got {metric!r} instead."
        )
    curves = rows.groupby(["strategy", "n_labelled"], sort=True)["value"].agg(
        mean="mean", std="std", n_seeds="count"
    )
    return curves.reset_index()


def _cell(mean: float, spread: float) -> str:
    return f"{mean:.3f}" if np.isnan(spread) else f"{mean:.3f} ± {spread:.3f}"


def paired_differences(
    runs: pd.DataFrame, reference: str, metric: str = "accuracy"
) -> pd.DataFrame:
    """Each strategy's AULC minus the reference's at the same seed, over shared seeds.

    Parameters
    ----------
    runs : pandas.DataFrame
        :func:`aulc_table` output.
    reference : str
        The strategy every other one is paired with (e.g. ``"random"``, ``"typiclust"``).
    metric : str, default="accuracy"

    Returns
    -------
    pandas.DataFrame
        Index strategy; columns ``mean``, ``std`` (ddof=1), ``sem`` (std / sqrt(n)) and
        ``n_seeds``, computed over the seeds both strategies ran.
    """
    wide = runs[runs["metric"] == metric].pivot_table(index="seed", columns="strategy",
                                                      values="aulc")
    if reference not in wide.columns:
        raise ValueError(
            f"The 'reference' parameter must name a strategy in the results. Got {reference!r}; "
            f"the results hold {sorted(wide.columns)}."
        )
    difference = wide.sub(wide[reference], axis=0)  # [seeds, strategies]
    n_seeds = difference.notna().sum()
    std = difference.std(ddof=1)
    return pd.DataFrame({"mean": difference.mean(), "std": std, "sem": std / np.sqrt(n_seeds),
                         "n_seeds": n_seeds})


def _metric_table(
    results: pd.DataFrame, runs: pd.DataFrame, metric: str, reference: str
) -> list[str]:
    scores = runs[runs["metric"] == metric]
    per_strategy = scores.groupby("strategy")["aulc"].agg(["mean", "std"])
    order = sorted(per_strategy.index, key=lambda name: (-per_strategy.loc[name, "mean"], name))
    curves = learning_curves(results, metric)
    budgets = sorted(curves["n_labelled"].unique())
    paired = reference in per_strategy.index and len(order) > 1
    header = ["strategy", "AULC"] + ([f"ΔAULC vs {reference} (± s.e.)"] if paired else [])
    header += [f"{int(n)} labels" for n in budgets]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    by_key = curves.set_index(["strategy", "n_labelled"])
    if paired:
        differences = paired_differences(runs, reference, metric)
    for name in order:
        cells = [name, _cell(per_strategy.loc[name, "mean"], per_strategy.loc[name, "std"])]
        if paired:
            cells.append(_cell(differences.loc[name, "mean"], differences.loc[name, "sem"]))
        for n in budgets:
            if (name, n) in by_key.index:
                row = by_key.loc[(name, n)]
                cells.append(_cell(row["mean"], row["std"]))
            else:
                cells.append("")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _timing_table(timings: pd.DataFrame) -> list[str]:
    means = timings.pivot_table(index="strategy", columns="metric", values="value", aggfunc="mean")
    columns = [name for name in ("query_seconds", "fit_seconds") if name in means.columns]
    lines = ["| strategy | " + " | ".join(f"mean {name} per round" for name in columns) + " |",
             "|" + "---|" * (len(columns) + 1)]
    for name in sorted(means.index):
        lines.append(f"| {name} | " + " | ".join(f"{means.loc[name, c]:.3f}" for c in columns)
                     + " |")
    return lines


def summary_markdown(
    results: pd.DataFrame,
    timings: pd.DataFrame | None = None,
    *,
    title: str | None = None,
    command: str | None = None,
    reference: str = DEFAULT_REFERENCE,
) -> str:
    """A markdown report: per metric, mean ± std over seeds of AULC and of each budget.

    Strategies are rows, sorted by mean AULC (best first). When ``reference``
    is among them, a column gives the mean ± standard error over seeds of each
    strategy's AULC minus the reference's at the same seed (a paired
    difference; :func:`paired_differences`). Timings, when given, go in a
    separate table of mean seconds per round.

    Parameters
    ----------
    results : pandas.DataFrame
        The runner's score rows.
    timings : pandas.DataFrame, optional
        The runner's timing rows.
    title : str, optional
        First heading; default from the experiment name.
    command : str, optional
        The command line that produced the results, shown verbatim.
    reference : str, default="random"
        The strategy of the paired-difference column.

    Returns
    -------
    str
    """
    if results.empty:
        raise ValueError("The 'results' parameter of summary_markdown holds no rows.")
    experiments = sorted(results["experiment"].unique())
    seeds = sorted(results["seed"].unique())
    lines = [f"# {title or ', '.join(experiments)}", ""]
    if command:
        lines += ["```", command, "```", ""]
    lines += [
        f"Seeds: {', '.join(map(str, seeds))} ({len(seeds)}). Cells are mean ± standard "
        "deviation over seeds (ddof=1) on the held-out test set; AULC is the area under the "
        "learning curve divided by the label range (trapezoid rule), i.e. the curve's mean "
        "score. Rows are sorted by mean AULC.",
        "",
    ]
    runs = aulc_table(results)
    metrics = [m for m in _METRIC_TITLES if m in set(results["metric"])]
    metrics += sorted(set(results["metric"]) - set(metrics))
    for metric in metrics:
        lines += [f"## {_METRIC_TITLES.get(metric, metric)}", ""]
        lines += [*_metric_table(results, runs, metric, reference), ""]
    if timings is not None and not timings.empty:
        lines += ["## Time per round (seconds; machine-dependent, not part of the comparison)",
                  ""]
        lines += [*_timing_table(timings), ""]
    return "\n".join(lines)


def write_summary(
    out: str | os.PathLike,
    results: pd.DataFrame,
    timings: pd.DataFrame | None = None,
    **kwargs,
) -> Path:
    """Write :func:`summary_markdown` to ``<out>/summary.md`` (atomically) and return the path."""
    return write_atomic(Path(out) / "summary.md", summary_markdown(results, timings, **kwargs))
