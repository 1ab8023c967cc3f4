"""The experiments: runner, specifications, results, figures, command line.

This package uses the whole library and nothing in the library uses it. Its
entry point is the ``modal-ibal`` command; in Python (a notebook), the names
below run an experiment and read and draw its results. Importing it has no side
effects (matplotlib's backend is chosen by the command line, not here).
"""

from ._catalogue import EXPERIMENTS, get_experiment
from ._classifier import make_classifier
from ._datasets import load_cifar100
from ._fig4 import ibal_vs_uncertainty, rank_correlations
from ._figures import (
    plot_dataset,
    plot_ibal_vs_uncertainty,
    plot_image_grid,
    plot_learning_curves,
)
from ._networks import MLP, SmallCNN, default_device
from ._results import aulc_table, learning_curves, paired_differences, summary_markdown
from ._runner import run_experiment

__all__ = [
    "EXPERIMENTS",
    "MLP",
    "SmallCNN",
    "aulc_table",
    "default_device",
    "get_experiment",
    "ibal_vs_uncertainty",
    "learning_curves",
    "load_cifar100",
    "make_classifier",
    "paired_differences",
    "plot_dataset",
    "plot_ibal_vs_uncertainty",
    "plot_image_grid",
    "plot_learning_curves",
    "rank_correlations",
    "run_experiment",
    "summary_markdown",
]
