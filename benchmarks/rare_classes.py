r"""Rare classes: the default against TypiClust and MaxHerding, and what makes it find them.

For every data set, :func:`modal_ibal.experiments.run_experiment` runs, on the
same splits, nets, modAL loop and seeds:

- ``default``: :func:`modal_ibal.default_sampling` (class-balanced margin weights,
  concave per-cluster coverage, the codes' geometry chosen by their sign);
- ``uherding``: margin-weighted herding on unit rows, the default before the rare-class
  work (``herding_sampling(weights='margin')``), the reference of the mechanism study;
- one mechanism at a time on ``uherding`` (METHOD.md section 13):
  ``uherding-euclidean`` (the codes' own Euclidean geometry, no unit rows),
  ``uherding-concave`` (concave per-cluster coverage), ``uherding-k50`` (a 50-neighbour
  graph), ``uherding-class-frequency`` (margin weights divided by the pool frequency of
  the predicted class) and ``uherding-one-per-cluster`` (at most one pick per
  k-means cluster of more than 5 points until every such cluster holds a label);
- combined: ``uherding-concave-auto`` (concave coverage, unit rows only for non-negative
  codes: the default without its class-frequency weights), and that with one more piece
  (``-one-per-cluster``, ``-k50``, ``-100-clusters``: up to 100 clusters instead of 50);
- peers: the project's ``typiclust`` and ``herding`` (MaxHerding on a 20-neighbour
  graph), scikit-activeml 1.0.1's ``skal-typiclust`` and ``skal-maxherding``, and ``random``.

It writes ``<out>/<dataset>/`` (the runner's files, with the class-discovery curve
``curves_classes_found.png``), ``<out>/rare_classes.md`` (per data set: AULC of
balanced accuracy, accuracy and of the share of classes found, each paired against
``uherding``; the default paired against the best peer) and
``<out>/class_discovery.png`` (classes holding a label against labels bought, on the
imbalanced and long-tailed sets). Runs are kept and resumed as in :mod:`benchmarks.peers`::

    python -m benchmarks.rare_classes --datasets shuttle,synthetic,digits-lt50,digits-lt100 \
        --seeds 10 --out results/rare
"""

from __future__ import annotations

import argparse
import functools
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from modal_ibal import default_sampling, herding_sampling
from modal_ibal._utils.validation import check_pool
from modal_ibal.coverage._concave import cluster_random_state, concave_gains, coverage_clusters
from modal_ibal.coverage._herding import herding_batch
from modal_ibal.coverage._kernel import kernel_codes, knn_kernel_graph
from modal_ibal.embedding._codes import representation_codes
from modal_ibal.experiments._assembly import assemble
from modal_ibal.experiments._catalogue import get_experiment
from modal_ibal.experiments._files import DamagedFileError, read_protocol, read_run
from modal_ibal.experiments._results import aulc_table, paired_differences
from modal_ibal.experiments._runner import run_experiment, run_file
from modal_ibal.experiments._specs import ExperimentSpec
from modal_ibal.readers._query import model_and_labels
from modal_ibal.readers._view import model_view
from modal_ibal.scoring._uncertainty import margin_weights
from modal_ibal.strategies._registry import resolve_strategies

from .long_tail import LONG_TAILED, long_tailed_spec
from .peers import FASHION_MNIST_OVERRIDES, breast_cancer_spec, shuttle_spec, skactiveml_strategies

__all__ = [
    "BALANCED",
    "IMBALANCED",
    "MECHANISMS",
    "PEERS",
    "class_frequency_sampling",
    "main",
    "one_per_cluster_sampling",
    "rare_class_table",
]

IMBALANCED = ("shuttle", "synthetic", *LONG_TAILED)
BALANCED = ("breast-cancer", "digits", "fashion-mnist")
REFERENCE = "uherding"
PEERS = ("typiclust", "herding", "skal-typiclust", "skal-maxherding")
_TINY_CLUSTER = 5  # TypiClust's reference code ignores clusters of this many points or fewer


def class_frequency_sampling(classifier, X_pool, n_instances: int = 1, *, random_state=None,
                             X_labelled=None, y_labelled=None, **options):
    r"""Margin-weighted herding with each weight divided by its predicted class's pool share.

    :math:`w(x) = (1 - (p_{x,(1)} - p_{x,(2)})) / (C f_{\hat y(x)})`, with
    :math:`f_c` the share of the pool predicted as class :math:`c` (1 on a
    balanced prediction); weights of 1 without a fitted model.
    """
    X_pool, n_instances = check_pool(X_pool, n_instances)
    start = model_and_labels(classifier, X_pool, X_labelled, y_labelled)
    weights = np.ones(len(X_pool))
    if start.fitted:
        probas = model_view(start.estimator, X_pool, start.X_labelled,
                            start.y_labelled).pool_probabilities()  # [N, C]
        predicted = probas.argmax(axis=1)
        share = np.bincount(predicted, minlength=probas.shape[1]) / len(predicted)  # [C]
        weights = margin_weights(probas) / (probas.shape[1] * share[predicted])
    return herding_sampling(classifier, X_pool, n_instances, weights=weights,
                            random_state=random_state, X_labelled=X_labelled,
                            y_labelled=y_labelled, **options)


def one_per_cluster_sampling(classifier, X_pool, n_instances: int = 1, *, random_state=None,
                             X_labelled=None, y_labelled=None, concave: bool = False,
                             normalize_rows: bool | str = True):
    """Margin-weighted herding under a partition-matroid constraint, as TypiClust spreads picks.

    The clusters are :func:`modal_ibal.coverage._concave.coverage_clusters` of the
    codes (unit rows by default); a pick must come from a cluster of more than 5
    points that holds no label or earlier pick, while one remains; then any pool
    point. Each pick is the allowed point of highest weighted coverage gain (with
    ``concave``, of the default's cluster-concave coverage), all gains recomputed
    after every pick (:math:`O(B \\cdot \\mathrm{nnz})`, for the benchmark's pools).
    """
    X_pool, n_instances = check_pool(X_pool, n_instances)
    start = model_and_labels(classifier, X_pool, X_labelled, y_labelled)
    Z_labelled, Z_pool = representation_codes("inputs", X_pool, start.X_labelled, None)
    Z = kernel_codes(np.concatenate([Z_labelled, Z_pool]), normalize_rows=normalize_rows,
                     overwrite=True)
    n_labelled, n_points = Z_labelled.shape[0], Z.shape[0]
    weights = np.concatenate([np.zeros(n_labelled), np.ones(len(X_pool))])
    if start.fitted:
        weights[n_labelled:] = margin_weights(model_view(
            start.estimator, X_pool, start.X_labelled, start.y_labelled).pool_probabilities())
    groups = coverage_clusters(Z, n_labelled, n_instances, cluster_random_state(random_state))
    graph = knn_kernel_graph(Z).tocoo()  # graph[x, c] = k(x, c), symmetric
    coverage = np.zeros(n_points)
    if n_labelled:
        labelled = graph.col < n_labelled
        np.maximum.at(coverage, graph.row[labelled], graph.data[labelled])
    holds = np.zeros(groups.max() + 1, dtype=bool)
    holds[groups[:n_labelled]] = True
    large = np.bincount(groups) > _TINY_CLUSTER
    picked = np.zeros(n_points, dtype=bool)
    picked[:n_labelled] = True
    picks, scores = [], []
    columns = graph.tocsc()

    def all_gains() -> np.ndarray:
        if concave:
            held = np.bincount(groups, weights=weights * coverage)
            return concave_gains(columns, np.arange(n_points), coverage, weights, groups, held)
        terms = np.maximum(graph.data - coverage[graph.row], 0.0) * weights[graph.row]
        return np.bincount(graph.col, weights=terms, minlength=n_points)  # [M]

    for _ in range(n_instances):
        gains = all_gains()
        if not gains[~picked].any():
            weights = np.where(picked, 0.0, 1.0)  # saturated: unweighted, as the default does
            gains = all_gains()
        allowed = ~picked & large[groups] & ~holds[groups]
        if not allowed.any():
            allowed = ~picked
        best = int(np.flatnonzero(allowed)[np.argmax(gains[allowed])])
        picks.append(best - n_labelled)
        scores.append(gains[best])
        picked[best] = holds[groups[best]] = True
        column = graph.col == best
        np.maximum.at(coverage, graph.row[column], graph.data[column])
    return np.asarray(picks, dtype=np.int64), np.asarray(scores)


def concave_auto_with_clusters(max_clusters: int):
    """``uherding-concave-auto`` with another cap on its number of coverage clusters (50 in it)."""

    def strategy(classifier, X_pool, n_instances: int = 1, *, random_state=None,
                 X_labelled=None, y_labelled=None):
        X_pool, n_instances = check_pool(X_pool, n_instances)
        start = model_and_labels(classifier, X_pool, X_labelled, y_labelled)
        Z_labelled, Z_pool = representation_codes("inputs", X_pool, start.X_labelled, None)
        Z = kernel_codes(np.concatenate([Z_labelled, Z_pool]), normalize_rows="auto",
                         overwrite=True)
        weights = None
        if start.fitted:
            weights = margin_weights(model_view(start.estimator, X_pool, start.X_labelled,
                                                start.y_labelled).pool_probabilities())
        groups = coverage_clusters(Z, Z_labelled.shape[0], n_instances,
                                   cluster_random_state(random_state), max_clusters=max_clusters)
        return herding_batch(knn_kernel_graph(Z), Z_labelled.shape[0], n_instances, weights,
                             groups)

    strategy.__name__ = f"concave_auto_with_{max_clusters}_clusters"
    return strategy


MECHANISMS = {
    "uherding-euclidean": functools.partial(herding_sampling, weights="margin",
                                            normalize_rows=False),
    "uherding-concave": functools.partial(herding_sampling, weights="margin",
                                          concave_clusters=True),
    "uherding-k50": functools.partial(herding_sampling, weights="margin", n_neighbors=50),
    "uherding-class-frequency": class_frequency_sampling,
    "uherding-one-per-cluster": one_per_cluster_sampling,
}


CONCAVE_AUTO = {"weights": "margin", "normalize_rows": "auto", "concave_clusters": True}
COMBINATIONS = {  # margin-weighted herding with the two kept mechanisms, then one more
    "uherding-concave-auto": functools.partial(herding_sampling, **CONCAVE_AUTO),
    "uherding-concave-auto-one-per-cluster": functools.partial(
        one_per_cluster_sampling, concave=True, normalize_rows="auto"),
    "uherding-concave-auto-k50": functools.partial(herding_sampling, **CONCAVE_AUTO,
                                                   n_neighbors=50),
}


def _strategies(n_classes: int, names: Sequence[str]) -> dict:
    known = {"default": default_sampling,
             "uherding-concave-auto-100-clusters": concave_auto_with_clusters(100),
             REFERENCE: functools.partial(herding_sampling, weights="margin"), **MECHANISMS,
             **COMBINATIONS,
             **skactiveml_strategies(n_classes)}
    return {name: known[name] if name in known else resolve_strategies([name])[name]
            for name in names}


def dataset_spec(name: str) -> ExperimentSpec:
    """The benchmark's settings of data set ``name`` (the peer benchmark's, and the long-tailed sets)."""
    if name in LONG_TAILED:
        return long_tailed_spec(name)
    if name == "shuttle":
        return shuttle_spec()
    if name == "breast-cancer":
        return breast_cancer_spec()
    spec = get_experiment(name)
    if name == "fashion-mnist":
        spec = spec.with_overrides(pool_size=FASHION_MNIST_OVERRIDES["pool_size"],
                                   epochs=FASHION_MNIST_OVERRIDES["epochs"],
                                   rounds=FASHION_MNIST_OVERRIDES["rounds"])
    return spec


def _finished_seeds(out: Path, names: Sequence[str], seeds: Sequence[int]) -> list[int]:
    protocol = read_protocol(out)
    if protocol is None or REFERENCE not in names:
        return []
    done = []
    for seed in seeds:
        try:
            for name in names:
                read_run(run_file(out, name, seed), protocol, name, seed)
        except (DamagedFileError, FileNotFoundError, TypeError):
            continue
        done.append(seed)
    return done


def rare_class_table(results: pd.DataFrame, n_classes: int) -> pd.DataFrame:
    """Per strategy: AULCs of balanced accuracy, accuracy and classes found, paired to ``uherding``.

    Returns
    -------
    pandas.DataFrame
        Index strategy (best balanced-accuracy AULC first); for each metric
        ``<metric>`` (mean AULC), ``<metric>_d`` and ``<metric>_se`` (paired
        difference to :data:`REFERENCE`, mean and standard error over seeds);
        ``classes_last`` (mean classes holding a label at the last budget).
    """
    runs = aulc_table(results)
    columns = {}
    for metric in ("balanced_accuracy", "accuracy", "classes_found"):
        rows = runs[runs["metric"] == metric]
        paired = paired_differences(runs, REFERENCE, metric)
        columns[metric] = rows.groupby("strategy")["aulc"].mean()
        columns[f"{metric}_d"], columns[f"{metric}_se"] = paired["mean"], paired["sem"]
    found = results[results["metric"] == "classes_found"]
    last = found[found["round"] == found["round"].max()]
    columns["classes_last"] = last.groupby("strategy")["value"].mean() * n_classes
    return pd.DataFrame(columns).sort_values("balanced_accuracy", ascending=False,
                                             kind="mergesort")


def _goal(results: pd.DataFrame, metric: str) -> str:
    """The default against the best peer (by mean AULC of ``metric``), paired."""
    runs = aulc_table(results)
    rows = runs[runs["metric"] == metric]
    means = rows.groupby("strategy")["aulc"].mean()
    peers = [name for name in PEERS if name in means.index]
    if "default" not in means.index or not peers:
        return ""
    best = means[peers].idxmax()
    paired = paired_differences(runs, best, metric).loc["default"]
    return (f"`default` minus the best peer by {metric.replace('_', ' ')} AULC (`{best}`, "
            f"{means[best]:.3f}): {paired['mean']:+.3f} ± {paired['sem']:.3f}")


def _markdown(name: str, spec: ExperimentSpec, table: pd.DataFrame, n_seeds: int,
              goal: str) -> list[str]:
    test = ("its own test split (all of it)" if spec.test_size is None else
            f"{spec.test_size:.0%} of the data" if isinstance(spec.test_size, float)
            else f"{spec.test_size} points")
    lines = [f"### {name}", "",
             f"{spec.n_initial} initial labels, B={spec.batch_size}, {spec.n_rounds} rounds (up to "
             f"{int(spec.budgets[-1])} labels); {spec.epochs} epochs per fit; pool "
             f"{spec.pool_size or 'all but the test set'}; test set {test}; {n_seeds} seeds.",
             "",
             "| strategy | AULC balanced accuracy | vs uherding | AULC accuracy | vs uherding "
             "| AULC classes found | vs uherding | classes at the end |",
             "|---|---|---|---|---|---|---|---|"]
    for strategy, row in table.iterrows():
        cells = [strategy]
        for metric in ("balanced_accuracy", "accuracy", "classes_found"):
            reference = strategy == REFERENCE
            cells += [f"{row[metric]:.3f}",
                      "—" if reference else f"{row[f'{metric}_d']:+.3f} ± {row[f'{metric}_se']:.3f}"]
        cells.append(f"{row['classes_last']:.1f} / {spec.n_classes}")
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, "", goal, ""] if goal else [*lines, ""]


def _discovery_figure(curves: dict[str, pd.DataFrame], out: Path) -> None:
    """Classes holding a label against labels bought, one panel per data set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from modal_ibal.experiments._files import write_atomic

    shown = ("default", REFERENCE, "typiclust", "skal-typiclust", "skal-maxherding", "random")
    columns = min(3, len(curves))
    rows = -(-len(curves) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.3 * rows),
                                squeeze=False)
    for ax, (name, (frame, n_classes)) in zip(axes.ravel(), curves.items(), strict=False):
        found = frame[frame["metric"] == "classes_found"]
        for strategy in shown:
            mine = found[found["strategy"] == strategy]
            if mine.empty:
                continue
            mean = mine.groupby("n_labelled")["value"].mean() * n_classes
            ax.plot(mean.index, mean.to_numpy(), marker="o", markersize=3, label=strategy,
                    linewidth=2.2 if strategy == "default" else 1.2)
        ax.set_title(name)
        ax.set_xlabel("labels")
        ax.set_ylabel("classes with a label")
    for ax in axes.ravel()[len(curves):]:
        ax.axis("off")
    axes[0, 0].legend(fontsize=7)
    figure.tight_layout()
    import io

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    write_atomic(out / "class_discovery.png", buffer.getvalue())


def _metric(name: str) -> str:
    """What a set is judged by: balanced accuracy with rare classes, accuracy otherwise."""
    return "balanced_accuracy" if name in IMBALANCED else "accuracy"


def summary_tables(per_set: dict[str, tuple[pd.DataFrame, int]]) -> list[str]:
    """Markdown: the default against the previous default and the best peer, then every
    mechanism and combination paired against ``uherding``, one column per set."""
    lines = ["| set | judged by | seeds | default | vs uherding | best peer | default - best peer "
             "| classes at the end: default / best peer |", "|---|---|---|---|---|---|---|---|"]
    steps = [*MECHANISMS, *COMBINATIONS, "uherding-concave-auto-100-clusters", "default"]
    cells: dict[str, list[str]] = {step: [] for step in steps}
    for name, (results, n_classes) in per_set.items():
        metric, runs = _metric(name), aulc_table(results)
        rows = runs[runs["metric"] == metric]
        means = rows.groupby("strategy")["aulc"].mean()
        best = means[[peer for peer in PEERS if peer in means.index]].idxmax()
        found = results[(results["metric"] == "classes_found")
                        & (results["round"] == results["round"].max())]
        at_end = found.groupby("strategy")["value"].mean() * n_classes
        versus = paired_differences(runs, REFERENCE, metric)
        to_best = paired_differences(runs, best, metric)
        lines.append(
            f"| {name} | {metric.replace('_', ' ')} | {rows['seed'].nunique()} | "
            f"{means['default']:.3f} | {versus.loc['default', 'mean']:+.3f} ± "
            f"{versus.loc['default', 'sem']:.3f} | {best} ({means[best]:.3f}) | "
            f"{to_best.loc['default', 'mean']:+.3f} ± {to_best.loc['default', 'sem']:.3f} | "
            f"{at_end['default']:.1f} / {at_end[best]:.1f} of {n_classes} |")
        for step in steps:
            cells[step].append(f"{versus.loc[step, 'mean']:+.3f} ± {versus.loc[step, 'sem']:.3f}"
                               if step in versus.index else "")
    header = "| vs uherding | " + " | ".join(per_set) + " |"
    return [*lines, "", header, "|---|" + "---|" * len(per_set),
            *(f"| {step} | " + " | ".join(cells[step]) + " |" for step in steps), ""]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark from the command line; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.rare_classes",
        description="The default against TypiClust and MaxHerding on imbalanced, long-tailed "
        "and balanced sets, and the rare-class mechanisms one at a time.")
    everything = (*IMBALANCED, *BALANCED)
    parser.add_argument("--datasets", default=",".join(everything),
                        help=f"comma-separated, from {', '.join(everything)}")
    parser.add_argument("--strategies", default=None,
                        help="comma-separated (default: the default, uherding, the mechanisms "
                        "alone and combined, the peers and random)")
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0 .. k-1 (default 10)")
    parser.add_argument("--out", default="results/rare", help="output folder")
    parser.add_argument("--report-only", action="store_true", help="run nothing; report")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    names = [part.strip() for part in args.datasets.split(",") if part.strip()]
    unknown = sorted(set(names) - set(everything))
    if unknown or not names:
        raise SystemExit(f"--datasets must name some of {', '.join(everything)}. "
                         f"Got {args.datasets!r} instead.")
    strategies = (args.strategies.split(",") if args.strategies else
                  ["default", REFERENCE, *MECHANISMS, *COMBINATIONS,
                   "uherding-concave-auto-100-clusters", *PEERS, "random"])
    out = Path(args.out)
    seeds = list(range(args.seeds))
    for name in names:
        spec = dataset_spec(name)
        if not args.report_only:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", category=UserWarning, module=r"skactiveml\.")
                run_experiment(spec, _strategies(spec.n_classes, strategies), seeds=seeds,
                               out=out / name, resume=True, progress=not args.no_progress)
    report = ["# Rare classes: the default, the mechanisms and the peers", "", "```",
              "python -m benchmarks.rare_classes " + " ".join(
                  sys.argv[1:] if argv is None else argv), "```", ""]
    curves, per_set = {}, {}
    for name in sorted({*names, *(p.name for p in out.iterdir() if p.is_dir())}
                       & set(everything), key=everything.index):
        spec = dataset_spec(name)
        present = sorted({p.name.split("__seed")[0] for p in (out / name / "runs").glob("*.csv")})
        done = _finished_seeds(out / name, present, seeds)
        if not done:
            continue
        results, _ = assemble(out / name, [(s, seed) for seed in done for s in present])
        table = rare_class_table(results, spec.n_classes)
        report += _markdown(name, spec, table, len(done), _goal(
            results, "balanced_accuracy" if name in IMBALANCED else "accuracy"))
        per_set[name] = (results, spec.n_classes)
        if name in IMBALANCED:
            curves[name] = (results, spec.n_classes)
    if per_set:
        report[5:5] = ["## Summary", "", *summary_tables(per_set), "## Per set", ""]
    (out / "rare_classes.md").write_text("\n".join(report))
    if curves:
        _discovery_figure(curves, out)
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
