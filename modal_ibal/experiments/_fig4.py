"""Paper Fig. 4: IBAL scores against uncertainty on one model, with their rank correlation.

A model is fitted on one seed's initial labelled set (as in the runner); then,
over that seed's pool and from one forward pass, the IBAL score of every point
(the default reading, divided by its largest magnitude), its predictive
entropy (divided by its largest value) and the classifier's confidence (the
largest class probability). If IBAL were only an uncertainty measure in
disguise, it would be a monotone function of one of these; Spearman's rank
correlation says how close it comes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
from scipy.stats import spearmanr

from ..readers import labelled_view
from ..scoring import DEFAULT_READING, normalise_by_max, predictive_entropy, representer_importance
from ._files import write_atomic
from ._interrupts import stop_on_interrupt
from ._specs import Dataset, ExperimentSpec

__all__ = ["ibal_vs_uncertainty", "rank_correlations", "write_correlations"]

MEASURES = ("entropy", "confidence")


def ibal_vs_uncertainty(spec: ExperimentSpec, seed: int = 0, *,
                        reading: str = DEFAULT_READING,
                        data: Dataset | None = None) -> pd.DataFrame:
    """Fit one model on seed ``seed``'s initial labels and score its pool three ways.

    Parameters
    ----------
    spec : ExperimentSpec
    seed : int, default=0
    reading : str, default: the library's default reading
        The IBAL reading (:data:`modal_ibal.scoring.READINGS`).
    data : Dataset, optional
        The already-loaded data set (``spec.load_data()``), to avoid loading it again.

    Returns
    -------
    pandas.DataFrame
        One row per pool point; columns ibal (normalised IBAL score, lower is
        queried first), entropy (normalised predictive entropy), confidence
        (largest class probability) and label (the point's true class).
    """
    split = spec.split(spec.load_data() if data is None else data, seed)
    X_labelled, y_labelled = split.X_pool[split.initial], split.y_pool[split.initial]
    with stop_on_interrupt() as check:  # skorch's fit swallows Ctrl-C: stop all the same
        model = spec.build_model(seed).fit(X_labelled, y_labelled)
        check()
    view = labelled_view(model, split.X_pool, X_labelled=X_labelled, y_labelled=y_labelled)
    probas = view.pool.probas  # [N, C]
    importance = representer_importance(view, reading=reading)  # [N], from the same outputs
    return pd.DataFrame({
        "ibal": normalise_by_max(importance),
        "entropy": normalise_by_max(predictive_entropy(probas)),
        "confidence": probas.max(axis=1),
        "label": split.y_pool,
    })


def rank_correlations(scores: pd.DataFrame) -> pd.DataFrame:
    """Spearman's rank correlation of the IBAL score with each uncertainty measure.

    Parameters
    ----------
    scores : pandas.DataFrame
        :func:`ibal_vs_uncertainty` output.

    Returns
    -------
    pandas.DataFrame
        Indexed by measure (entropy, confidence); columns spearman_rho, p_value, n.
    """
    rows = {}
    for measure in MEASURES:
        result = spearmanr(scores["ibal"], scores[measure])
        rows[measure] = (float(result.statistic), float(result.pvalue), len(scores))
    table = pd.DataFrame.from_dict(rows, orient="index", columns=["spearman_rho", "p_value", "n"])
    table.index.name = "measure"
    return table


def write_correlations(out: str | os.PathLike, correlations: pd.DataFrame, *,
                       title: str) -> list[Path]:
    """Write ``fig4_correlations.csv`` and ``fig4.md`` (a markdown table) into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "fig4_correlations.csv"
    write_atomic(csv_path, correlations.to_csv(lineterminator="\n"))
    lines = [f"# {title}", "",
             "Spearman rank correlation of the normalised IBAL score with each uncertainty "
             "measure over the pool.", "",
             "| measure | Spearman ρ | p-value | pool points |", "|---|---|---|---|"]
    lines += [
        f"| {measure} | {row.spearman_rho:.3f} | {row.p_value:.2g} | {int(row.n)} |"
        for measure, row in correlations.iterrows()
    ]
    md_path = out / "fig4.md"
    write_atomic(md_path, "\n".join(lines) + "\n")
    return [csv_path, md_path]
