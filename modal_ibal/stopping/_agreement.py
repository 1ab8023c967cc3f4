r"""How much two models' predictions on the same points agree: Cohen's kappa, and its class-balanced kin.

Stabilising predictions (Bloodgood and Vijay-Shanker, 2009) stops labelling when
successive models stop changing their minds on a fixed set of unlabelled points.
Cohen's kappa measures that agreement beyond chance, but on imbalanced data the
majority class dominates it: a rare class whose few predictions still flip moves
kappa by a hair. :func:`class_balanced_agreement` weighs every predicted class
the same.
"""

from __future__ import annotations

import numpy as np

__all__ = ["class_balanced_agreement", "cohens_kappa"]


def _class_codes(previous, current) -> tuple[np.ndarray, np.ndarray, int]:
    """Both label vectors as codes 0 .. n_classes - 1 over their joint classes."""
    previous, current = np.asarray(previous).ravel(), np.asarray(current).ravel()
    if previous.shape != current.shape or previous.size == 0:
        raise ValueError(
            "The two prediction vectors must be non-empty and of the same length. Got "
            f"{previous.size} and {current.size} predictions instead."
        )
    classes, codes = np.unique(np.concatenate([previous, current]), return_inverse=True)
    return codes[: previous.size], codes[previous.size:], classes.size


def cohens_kappa(previous, current) -> float:
    r"""Cohen's kappa between two label vectors on the same points.

    .. math::  \kappa = \frac{p_o - p_e}{1 - p_e}, \qquad
               p_e = \sum_c \frac{|a = c|}{n} \frac{|b = c|}{n}

    with :math:`p_o` the share of points on which they agree.

    Parameters
    ----------
    previous, current : array-like of shape (n_points,)

    Returns
    -------
    float
        In [-1, 1]. Two identical vectors give 1, also when they hold one class
        only (where the formula is 0/0).
    """
    a, b, n_classes = _class_codes(previous, current)
    if np.array_equal(a, b):
        return 1.0
    observed = np.mean(a == b)
    chance = float(np.dot(np.bincount(a, minlength=n_classes),
                          np.bincount(b, minlength=n_classes))) / a.size**2
    return float((observed - chance) / (1.0 - chance))


def class_balanced_agreement(previous, current) -> float:
    r"""The mean over predicted classes of how much the two models agree on that class.

    .. math::  A = \frac{1}{|C|} \sum_{c \in C}
               \frac{|\{a = c\} \cap \{b = c\}|}{|\{a = c\} \cup \{b = c\}|}

    over the classes :math:`C` that either vector predicts (the macro-averaged
    Jaccard index of the two partitions). A class predicted for three points,
    one of which changed, scores 0.5 however large the other classes are.

    Parameters
    ----------
    previous, current : array-like of shape (n_points,)

    Returns
    -------
    float
        In [0, 1]; 1 exactly when the vectors are equal.
    """
    a, b, n_classes = _class_codes(previous, current)
    both = np.bincount(a[a == b], minlength=n_classes)
    either = np.bincount(a, minlength=n_classes) + np.bincount(b, minlength=n_classes) - both
    return float(np.mean(both / either))
