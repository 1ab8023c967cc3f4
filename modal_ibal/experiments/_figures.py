"""Plots: the data set, learning curves with a band over seeds, and IBAL against uncertainty.

Plot functions draw what they are given onto ``ax`` (default: pyplot's current
Axes) and return the Axes; they compute no results (curves come from
:func:`modal_ibal.experiments.learning_curves`, rank correlations from
:mod:`modal_ibal.experiments._fig4`). The ``write_*`` functions draw onto
``matplotlib.figure.Figure`` objects, which need no pyplot and no display, and
save PNGs atomically (a failed write leaves the previous file). The command line selects the Agg backend; importing this module
does not.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ._files import open_atomic
from ._results import aulc_table, learning_curves, paired_differences

__all__ = [
    "PAPER_STRATEGIES",
    "plot_dataset",
    "plot_ibal_vs_uncertainty",
    "plot_image_grid",
    "plot_learning_curves",
    "plot_paired_differences",
    "write_fig4_figures",
    "write_figures",
]

# the five curves of the paper's Fig. 2, by registered name
PAPER_STRATEGIES = ("random", "entropy", "ibal-target", "ibal-d", "entropy-d")

_METRIC_LABELS = {
    "accuracy": "test accuracy",
    "balanced_accuracy": "test balanced accuracy",
    "macro_f1": "test macro-F1",
    "classes_found": "share of classes with a label",
}
_DPI = 120


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.gca()


def plot_dataset(X: np.ndarray, y: np.ndarray, ax: Axes | None = None, *,
                 title: str | None = None) -> Axes:
    """Scatter of 2-D points coloured by class.

    Parameters
    ----------
    X : ndarray of shape (n_samples, 2)
    y : ndarray of shape (n_samples,)
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib Axes
    """
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(
            f"The 'X' parameter of plot_dataset must have shape (n_samples, 2). Got {X.shape} "
            "instead."
        )
    ax = _axes(ax)
    classes, counts = np.unique(y, return_counts=True)
    for label, count in zip(classes, counts, strict=True):
        rows = X[y == label]
        ax.scatter(rows[:, 0], rows[:, 1], s=6, alpha=0.5, label=f"class {label} ({count})")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.legend(loc="best", markerscale=2, fontsize="small")
    ax.set_title(title or "data set")
    return ax


def plot_image_grid(X: np.ndarray, y: np.ndarray, ax: Axes | None = None, *,
                    n_per_class: int = 8, max_classes: int = 10,
                    title: str | None = None) -> Axes:
    """The first ``n_per_class`` images of each of the first ``max_classes`` classes, one row each.

    Parameters
    ----------
    X : ndarray of shape (n_samples, channels, height, width)
        Values in [0, 1]; 1 or 3 channels.
    y : ndarray of shape (n_samples,)
    ax : matplotlib Axes, optional
    n_per_class, max_classes : int
    title : str, optional

    Returns
    -------
    matplotlib Axes
    """
    X = np.asarray(X)
    if X.ndim != 4 or X.shape[1] not in (1, 3):
        raise ValueError(
            "The 'X' parameter of plot_image_grid must have shape (n, 1 or 3, height, width). "
            f"Got {X.shape} instead."
        )
    ax = _axes(ax)
    classes = np.unique(y)[:max_classes]
    channels, height, width = X.shape[1:]
    canvas = np.ones((len(classes) * (height + 1), n_per_class * (width + 1), channels))
    for row, label in enumerate(classes):
        for column, index in enumerate(np.flatnonzero(y == label)[:n_per_class]):
            top, left = row * (height + 1), column * (width + 1)
            canvas[top : top + height, left : left + width] = X[index].transpose(1, 2, 0)
    image = canvas[..., 0] if channels == 1 else np.clip(canvas, 0, 1)
    ax.imshow(image, cmap="gray_r" if channels == 1 else None, interpolation="nearest")
    ax.set_yticks((np.arange(len(classes)) + 0.5) * (height + 1), [str(c) for c in classes])
    ax.set_xticks([])
    ax.set_ylabel("class")
    ax.set_title(title or "examples per class")
    return ax


def plot_learning_curves(curves: pd.DataFrame, ax: Axes | None = None, *,
                         metric: str = "accuracy", strategies: Sequence[str] | None = None,
                         title: str | None = None) -> Axes:
    """Mean score against labels per strategy, with a band of plus or minus one std over seeds.

    Bands are drawn for up to six strategies; beyond that they would hide the curves.

    Parameters
    ----------
    curves : pandas.DataFrame
        :func:`modal_ibal.experiments.learning_curves` output (columns
        strategy, n_labelled, mean, std).
    ax : matplotlib Axes, optional
    metric : str, default="accuracy"
        For the axis label.
    strategies : sequence of str, optional
        Which strategies, in legend order; default all, by name.
    title : str, optional

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax)
    names = sorted(curves["strategy"].unique()) if strategies is None else list(strategies)
    colours = _colours(len(names))
    for name, colour in zip(names, colours, strict=True):
        curve = curves[curves["strategy"] == name].sort_values("n_labelled")
        x, mean = curve["n_labelled"].to_numpy(), curve["mean"].to_numpy()
        std = np.nan_to_num(curve["std"].to_numpy())
        style = "--" if name == "random" else "-"
        ax.plot(x, mean, style, color=colour, marker="o", markersize=3, label=name)
        if len(names) <= 6:
            ax.fill_between(x, mean - std, mean + std, color=colour, alpha=0.15, linewidth=0)
    ax.set_xlabel("labelled points")
    ax.set_ylabel(_METRIC_LABELS.get(metric, metric))
    ax.grid(alpha=0.3)
    if len(names) > 6:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="x-small")
    else:
        ax.legend(loc="best", fontsize="small")
    spread = " ± std" if len(names) <= 6 else ""
    ax.set_title(title or f"{_METRIC_LABELS.get(metric, metric)}: mean{spread} over seeds")
    return ax


def plot_paired_differences(differences: pd.DataFrame, ax: Axes | None = None, *,
                            reference: str, metric: str = "accuracy",
                            title: str | None = None) -> Axes:
    """Each strategy's AULC minus the reference's at the same seed: mean ± standard error.

    Parameters
    ----------
    differences : pandas.DataFrame
        :func:`modal_ibal.experiments.paired_differences` output (index
        strategy; columns mean, sem, n_seeds).
    ax : matplotlib Axes, optional
    reference : str
        The strategy the others are paired with (left out of the plot).
    metric : str, default="accuracy"
    title : str, optional

    Returns
    -------
    matplotlib Axes
    """
    ax = _axes(ax)
    rows = differences.drop(index=reference, errors="ignore").sort_values("mean")
    positions = np.arange(len(rows))
    sem = np.nan_to_num(rows["sem"].to_numpy())
    colours = ["tab:green" if low > 0 else "tab:red" if high < 0 else "tab:grey"
               for low, high in zip(rows["mean"] - 2 * sem, rows["mean"] + 2 * sem, strict=True)]
    ax.barh(positions, rows["mean"], xerr=sem, color=colours, alpha=0.8, capsize=3)
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_yticks(positions, rows.index)
    n_seeds = int(rows["n_seeds"].min()) if len(rows) else 0
    ax.set_xlabel(f"AULC of {_METRIC_LABELS.get(metric, metric)} minus {reference}'s "
                  f"(same seed; mean ± s.e., {n_seeds} seeds)")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title or f"paired differences against {reference}")
    return ax


def plot_ibal_vs_uncertainty(ibal_norm: np.ndarray, other_norm: np.ndarray,
                             ax: Axes | None = None, *, other_label: str = "normalised entropy",
                             rho: float | None = None, title: str | None = None) -> Axes:
    """Paper Fig. 4: normalised IBAL score of each pool point against an uncertainty measure.

    Parameters
    ----------
    ibal_norm : ndarray of shape (n_pool,)
        IBAL scores divided by their largest magnitude.
    other_norm : ndarray of shape (n_pool,)
        The uncertainty measure (normalised entropy, or confidence).
    ax : matplotlib Axes, optional
    other_label : str, default="normalised entropy"
        The x-axis label.
    rho : float, optional
        Spearman's rank correlation, computed by the caller, shown in the title.
    title : str, optional

    Returns
    -------
    matplotlib Axes
    """
    ibal_norm, other_norm = np.asarray(ibal_norm), np.asarray(other_norm)
    if ibal_norm.shape != other_norm.shape or ibal_norm.ndim != 1:
        raise ValueError(
            "The 'ibal_norm' and 'other_norm' parameters of plot_ibal_vs_uncertainty must be 1-D "
            f"of equal length. Got shapes {ibal_norm.shape} and {other_norm.shape} instead."
        )
    ax = _axes(ax)
    ax.scatter(other_norm, ibal_norm, s=4, alpha=0.35, linewidths=0, rasterized=True)
    ax.set_xlabel(other_label)
    ax.set_ylabel("normalised IBAL score")
    ax.grid(alpha=0.3)
    heading = title or f"IBAL vs {other_label}"
    if rho is not None:
        heading += f" (Spearman ρ = {rho:.2f})"
    ax.set_title(heading)
    return ax


def _colours(n: int) -> list:
    from matplotlib import colormaps

    palette = colormaps["tab10" if n <= 10 else "tab20"]
    return [palette(i % palette.N) for i in range(n)]


def _save(figure: Figure, path: Path) -> Path:
    with open_atomic(path, "wb") as stream:
        figure.savefig(stream, format="png", dpi=_DPI, bbox_inches="tight")
    return path


def write_figures(out: str | os.PathLike, results: pd.DataFrame, X: np.ndarray | None = None,
                  y: np.ndarray | None = None, *, title: str | None = None,
                  reference: str = "random") -> list[Path]:
    """Write ``dataset.png``, ``curves_<metric>.png`` and ``differences_<metric>.png``.

    Parameters
    ----------
    out : path
    results : pandas.DataFrame
        The runner's score rows.
    X, y : ndarray, optional
        The data set: 2-D points are scattered, images shown as a grid.
    title : str, optional
        Prefix of the figure titles (e.g. the experiment name).
    reference : str, default="random"
        The strategy of the paired-difference figures (written when it ran with at
        least two seeds).

    Returns
    -------
    list of Path

    Notes
    -----
    When the results hold both some of the paper's five strategies
    (:data:`PAPER_STRATEGIES`, as in its Fig. 2) and others, the learning curves
    take two panels: the paper's, and the rest next to random.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    prefix = f"{title}: " if title else ""
    if X is not None and y is not None:
        figure = Figure(figsize=(6, 5))
        ax = figure.subplots()
        if np.ndim(X) == 2 and np.shape(X)[1] == 2:
            plot_dataset(X, y, ax, title=f"{prefix}data set ({len(y)} points)")
        elif np.ndim(X) == 4:
            plot_image_grid(X, y, ax, title=f"{prefix}examples per class")
        else:
            figure = None
        if figure is not None:
            paths.append(_save(figure, out / "dataset.png"))
    names = sorted(results["strategy"].unique())
    paper = [name for name in PAPER_STRATEGIES if name in names]
    others = [name for name in names if name not in PAPER_STRATEGIES]
    panels = [(paper, "the paper's strategies (its Fig. 2)"),
              ((["random"] if "random" in names else []) + others, "beyond the paper")]
    if not paper or not others:
        panels = [(names, f"{prefix}{{label}}: mean ± std over seeds")]
    runs = aulc_table(results)
    for metric in sorted(results["metric"].unique()):
        label = _METRIC_LABELS.get(metric, metric)
        curves = learning_curves(results, metric)
        figure = Figure(figsize=(7 * len(panels), 5), layout="constrained")
        axes = np.atleast_1d(figure.subplots(1, len(panels), sharey=True))
        for ax, (chosen, panel) in zip(axes, panels, strict=True):
            plot_learning_curves(curves, ax, metric=metric, strategies=chosen,
                                 title=panel.format(label=label))
        if len(panels) > 1:
            figure.suptitle(f"{prefix}{label}: mean over seeds (bands: ± std, up to six curves)")
        paths.append(_save(figure, out / f"curves_{metric}.png"))
        n_seeds = results.loc[results["strategy"] == reference, "seed"].nunique()
        if len(names) > 1 and n_seeds >= 2:
            figure = Figure(figsize=(7, 0.9 + 0.35 * len(names)))
            plot_paired_differences(paired_differences(runs, reference, metric),
                                    figure.subplots(), reference=reference, metric=metric,
                                    title=f"{prefix}{label}: paired differences against "
                                          f"{reference}")
            paths.append(_save(figure, out / f"differences_{metric}.png"))
    return paths


def write_fig4_figures(out: str | os.PathLike, scores: pd.DataFrame,
                       correlations: pd.DataFrame, *, title: str | None = None) -> list[Path]:
    """Write ``fig4_entropy.png`` and ``fig4_confidence.png``.

    Parameters
    ----------
    out : path
    scores : pandas.DataFrame
        Columns ibal, entropy, confidence (one row per pool point), from
        :func:`modal_ibal.experiments._fig4.ibal_vs_uncertainty`.
    correlations : pandas.DataFrame
        Indexed by measure (entropy, confidence) with a column spearman_rho.
    title : str, optional
        Prefix of the titles.

    Returns
    -------
    list of Path
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    prefix = f"{title}: " if title else ""
    paths = []
    for measure, label in (("entropy", "normalised entropy"),
                           ("confidence", "confidence (max probability)")):
        figure = Figure(figsize=(5.5, 5))
        plot_ibal_vs_uncertainty(
            scores["ibal"].to_numpy(), scores[measure].to_numpy(), figure.subplots(),
            other_label=label, rho=float(correlations.loc[measure, "spearman_rho"]),
            title=f"{prefix}IBAL vs {measure}",
        )
        paths.append(_save(figure, out / f"fig4_{measure}.png"))
    return paths
