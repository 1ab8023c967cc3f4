r"""k-means cells of the labelled codes, so that the nearest-labelled search skips most pairs.

The labelled codes are cut into k-means cells, each with a centre :math:`\mu_c`
and a radius :math:`r_c = \max_{t \in c} \lVert z_t - \mu_c \rVert`. By the
triangle inequality every labelled point of cell :math:`c` lies at least

.. math::  \lVert z_i - \mu_c \rVert - r_c

from a pool point :math:`z_i`. Once :math:`z_i` is known to have a labelled point
within :math:`u_i`, every cell whose bound exceeds :math:`u_i` holds no point as
near as that one, nor one tied with it, and need not be searched.
:func:`modal_ibal.search.nearest_labelled_index` searches each pool point
first against its own cell (the one whose centre is nearest), then against the
cells that bound leaves, so that its result is that of the full search, ties
included. The bounds are computed in float64 and loosened by far more than
their rounding error, so a cell is skipped only when the skip is certain.
"""

from __future__ import annotations

import numpy as np

from ._kmeans import group_rows, kmeans_plus_plus_seeds, lloyd, nearest_centre

__all__ = ["MIN_LABELLED_FOR_CELLS", "MIN_POOL_FOR_CELLS", "LabelledCells", "uses_cells"]

MIN_LABELLED_FOR_CELLS = 2_048  # fewer labelled points: one search over all of them
MIN_POOL_FOR_CELLS = 16_384  # fewer pool points: the cells cost more than they save
_LABELLED_PER_CELL = 32
_MAX_CELLS = 256
_KMEANS_ITERATIONS = 10
_SAMPLE_PER_CELL = 32  # k-means is fitted on this many labelled points per cell
_SEED_TRIALS = 7  # k-means++ draws per seed: 2 + ln(256), scikit-learn's rule at the most cells
_BLOCK_ELEMENTS = 1 << 22  # pool x centre bounds held at once
_RELATIVE_SLACK = 1e-9  # rounding of the float64 bounds is below 1e-13 relative
_ABSOLUTE_SLACK = 1e-150


class LabelledCells:
    r"""k-means cells of the labelled codes, with the bounds that let a search skip them.

    Parameters
    ----------
    Z_labelled : ndarray of shape (n_labelled, n_dims)
        Finite labelled codes.

    Attributes
    ----------
    centres : ndarray of shape (n_cells, n_dims), float64
        :math:`\mu_c`.
    radius : ndarray of shape (n_cells,), float64
        :math:`r_c`, loosened upwards.
    members : list of ndarray
        The labelled rows of each cell, ascending.

    Notes
    -----
    :math:`\min(256, n / 32)` cells (at least 2), fitted by k-means (k-means++
    start, 10 Lloyd iterations, :mod:`modal_ibal.search._kmeans`, on a fixed sample of
    32 labelled points per cell, with a private fixed seed; the global random state
    is left as it was). The cells only decide which pairs are compared, never a result.
    """

    def __init__(self, Z_labelled: np.ndarray) -> None:
        codes = np.asarray(Z_labelled, dtype=np.float64)  # [n, k]
        if codes.ndim != 2 or codes.shape[0] == 0 or codes.shape[1] == 0 or \
                not np.isfinite(codes).all():
            raise ValueError(
                "The 'Z_labelled' parameter must be a non-empty, finite array of shape "
                f"(n_labelled, n_dims) with n_dims >= 1. Got shape {codes.shape} instead."
            )
        n_cells = int(min(np.clip(codes.shape[0] // _LABELLED_PER_CELL, 2, _MAX_CELLS),
                          codes.shape[0]))
        rng = np.random.RandomState(0)  # a private generator: the global state is untouched
        sample = codes[np.sort(rng.choice(codes.shape[0], min(codes.shape[0],
                                                               _SAMPLE_PER_CELL * n_cells),
                                          replace=False))]  # [m, k]: fitted on, then all assigned
        seeds = kmeans_plus_plus_seeds(sample, np.full(sample.shape[0], np.inf), n_cells,
                                       _SEED_TRIALS, rng)
        self.centres = lloyd(sample, n_cells, start=seeds, n_iterations=_KMEANS_ITERATIONS)
        cell = nearest_centre(codes, self.centres, block_elements=_BLOCK_ELEMENTS)  # [n]
        order, bounds = group_rows(cell, n_cells)  # labelled rows grouped by cell, ascending
        self.members = [order[bounds[c]:bounds[c + 1]] for c in range(n_cells)]
        offsets = codes - self.centres[cell]  # [n, k]
        reach = np.sqrt(np.einsum("ij,ij->i", offsets, offsets))  # [n]
        radius = np.zeros(n_cells)
        np.maximum.at(radius, cell, reach)
        self.radius = radius * (1 + _RELATIVE_SLACK) + _ABSOLUTE_SLACK
        self._centre_norms = np.einsum("ij,ij->i", self.centres, self.centres)  # [C]
        self._minus_twice_centres = -2.0 * self.centres  # [C, k]

    @property
    def n_cells(self) -> int:
        return self.centres.shape[0]

    def _centre_scores(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r""":math:`\lVert\mu_c\rVert^2 - 2 z_i^\top \mu_c` [b, C] and :math:`\lVert z_i\rVert^2` [b]."""
        rows = np.asarray(Z, dtype=np.float64)
        scores = rows @ self._minus_twice_centres.T  # [b, C]
        scores += self._centre_norms
        return scores, np.einsum("ij,ij->i", rows, rows)

    def home(self, Z_pool: np.ndarray) -> np.ndarray:
        """The cell whose centre is nearest to each pool row (lower cell on ties), in float64."""
        return nearest_centre(Z_pool, self.centres, block_elements=_BLOCK_ELEMENTS)

    def needed(self, Z_rows: np.ndarray, within: np.ndarray) -> np.ndarray:
        r"""Labelled rows, ascending, of the cells that may hold a point within ``within``.

        ``within`` [b] (float64) bounds, for each of ``Z_rows`` [b, k], the distance
        to some labelled point; a cell is left out only when it is certain that each
        of its points is farther than that from every row, by more than rounding:
        with the squared distance to a centre computed as
        :math:`\lVert z\rVert^2 + \lVert\mu\rVert^2 - 2 z^\top\mu` and lowered by
        :math:`10^{-9} (\lVert z\rVert^2 + \lVert\mu\rVert^2)`, the radii and
        ``within`` raised by :math:`10^{-9}` relative.
        """
        reach = np.asarray(within, dtype=np.float64) * (1 + _RELATIVE_SLACK) + _ABSOLUTE_SLACK
        scores, norms = self._centre_scores(Z_rows)  # [b, C], [b]
        scores -= _RELATIVE_SLACK * self._centre_norms
        scores += (1 - _RELATIVE_SLACK) * norms[:, None] - _ABSOLUTE_SLACK  # squared, lowered
        np.maximum(scores, 0.0, out=scores)
        distance = np.sqrt(scores, out=scores)
        distance -= reach[:, None]
        cells = np.flatnonzero(distance.min(axis=0) <= self.radius)
        if cells.size == 0:
            return np.empty(0, dtype=np.intp)
        return np.sort(np.concatenate([self.members[c] for c in cells]))

def uses_cells(n_pool: int, n_labelled: int) -> bool:
    """Whether :func:`find_nearest` searches ``n_pool`` rows against ``n_labelled`` by cells."""
    return n_labelled >= MIN_LABELLED_FOR_CELLS and n_pool >= MIN_POOL_FOR_CELLS

