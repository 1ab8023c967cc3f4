"""Nearest-labelled distances kept between active learning rounds.

:class:`LabelledDistanceCache` returns what :func:`modal_ibal.search.nearest_labelled_index`
returns, but when the labelled set only grew since the last call (modAL appends the queried
rows to ``X_training`` and deletes them from the pool) it searches the surviving pool rows
against the new labelled rows only: :math:`O(N B)` instead of :math:`O(N n)` per round.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._utils.hashing import draw_multipliers, row_keys, words_per_row
from .._utils.validation import check_positive_int
from ._nearest_labelled import check_code_pair
from ._screened import DEFAULT_BLOCK_ELEMENTS, find_nearest, search_nearest

__all__ = ["LabelledDistanceCache"]

_MAX_RUNS = 1024  # a pool whose kept rows form more runs is compared by one gather instead
_MATCH_ROWS = 1 << 16  # pool rows compared at once
_HASH_SEED = 0x1BA1D  # fixed hash multipliers: a collision only costs a search


@dataclass(frozen=True)
class _Round:
    """What one call of :class:`LabelledDistanceCache` saw and found."""

    pool: np.ndarray  # [N, k] a copy of the pool codes, a view of ``buffer``
    buffer: np.ndarray  # [>= N, k]
    labelled: np.ndarray  # [n, k] a copy of the labelled codes
    nearest: np.ndarray  # [N]
    squared: np.ndarray  # [N] float64

    def extended_by(self, Z_pool: np.ndarray, Z_labelled: np.ndarray) -> bool:
        """True when ``Z_labelled`` starts with this round's labelled codes, exactly."""
        n_old = self.labelled.shape[0]
        return (Z_pool.dtype == self.pool.dtype and Z_pool.shape[1] == self.pool.shape[1]
                and Z_labelled.dtype == self.labelled.dtype
                and Z_labelled.shape[0] >= n_old
                and np.array_equal(Z_labelled[:n_old], self.labelled))


class LabelledDistanceCache:
    r"""Nearest-labelled distances kept between query rounds, updated with the new labels only.

    Pass one instance to the distance strategies of an active learning loop
    (``distance_cache=cache``). Each call returns exactly what
    :func:`nearest_labelled_index` returns for its arguments; when the labelled
    codes extend those of the previous call, the pool rows found in the previous
    pool are searched against the new labelled rows only, :math:`O(N B)` for
    :math:`B` new labels instead of :math:`O(N n)`.

    Parameters
    ----------
    block_elements : int, default=4194304
        As in :func:`nearest_labelled_index`.

    Attributes
    ----------
    n_searched : int
        Pool rows searched against the whole labelled set, over all calls.
    n_updated : int
        Pool rows taken from the previous call and updated with the new labelled
        rows only, over all calls.

    Notes
    -----
    Nothing is taken on trust. A call reuses the previous one only when the pool
    and labelled dtypes and widths are unchanged and the previous labelled codes
    are, exactly, the first rows of the new ones (modAL appends new labels to
    ``X_training``); otherwise it searches in full. The previous pool rows are then
    searched against the :math:`B` new labelled rows and each keeps the nearer of
    its old and new winners (the old one on a tie, as it has the lower row), which
    is the full search's answer. A new pool row takes the result of a previous row
    whose codes it equals exactly, found by, in turn:

    * the same pool (equal arrays);
    * the previous pool less the rows equal to a new labelled row, in order
      (modAL's ``np.delete`` of the queried rows), compared run by run;
    * 63-bit content keys of every row's bytes (:func:`modal_ibal._utils.hashing.row_keys`,
      a multilinear hash modulo a prime), sorted and matched, each match then
      compared exactly.

    Rows left unmatched (new, changed or colliding) are searched in full. So
    deleted, reordered or edited pools, a labelled set that is not an extension,
    and codes that changed cost time, never a stale distance. The cache therefore
    pays only when each row's codes are bitwise the same from call to call: a fixed
    embedding such as an autoencoder (:class:`~modal_ibal.CachedEmbedding`
    guarantees it; a bare :class:`~modal_ibal.MLPAutoencoder` was bitwise stable
    across batch compositions on torch 2.14's CPU path), not the classifier's own
    features, which move with every refit.

    The search against the new rows skips the float64 step for every pool row
    whose float32 lower bound on its distance to all of them,
    :math:`\lVert x_i\rVert^2 (1 - \epsilon) + \min_t \tilde s_{it} - E_i - F_i`
    (see :func:`nearest_labelled_index`), exceeds its old squared distance: such a
    row can neither beat nor tie its old winner. With 1,000,000 16-d codes, 10,000
    labelled and :math:`B = 100` new labels, an update cost about a fortieth of the
    full search (``python -m benchmarks.nearest_labelled``).

    Memory: two copies of the pool codes (the last pool and a spare buffer the next
    pool is copied into, so that no round pays fresh page faults), the labelled
    codes, and 16 bytes per pool row. Not thread-safe: one loop per instance.
    """

    def __init__(self, *, block_elements: int = DEFAULT_BLOCK_ELEMENTS):
        self.block_elements = check_positive_int(block_elements, "block_elements")
        self.n_searched = 0
        self.n_updated = 0
        self.clear()

    def clear(self) -> None:
        """Forget the previous call (the counts stay); the next call searches in full."""
        self._round: _Round | None = None
        self._spare: np.ndarray | None = None

    def nearest_labelled_index(
        self, Z_pool: np.ndarray, Z_labelled: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """What :func:`nearest_labelled_index` returns, reusing the previous call.

        Parameters
        ----------
        Z_pool : ndarray of shape (n_pool, n_dims)
        Z_labelled : ndarray of shape (n_labelled, n_dims)

        Returns
        -------
        nearest : ndarray of shape (n_pool,), intp
        distance : ndarray of shape (n_pool,), float64
        """
        nearest, squared = self._nearest(Z_pool, Z_labelled)
        return nearest.copy(), np.sqrt(squared)

    def nearest_labelled_distance(self, Z_pool: np.ndarray, Z_labelled: np.ndarray) -> np.ndarray:
        """What :func:`nearest_labelled_distance` returns (Eq. 3), reusing the previous call.

        Parameters
        ----------
        Z_pool : ndarray of shape (n_pool, n_dims)
        Z_labelled : ndarray of shape (n_labelled, n_dims)

        Returns
        -------
        ndarray of shape (n_pool,), float64
        """
        return np.sqrt(self._nearest(Z_pool, Z_labelled)[1])

    def _nearest(self, Z_pool, Z_labelled) -> tuple[np.ndarray, np.ndarray]:
        Z_pool, Z_labelled, _ = check_code_pair(Z_pool, Z_labelled, self.block_elements)
        previous = self._round
        if previous is not None and previous.extended_by(Z_pool, Z_labelled):
            nearest, squared = self._update(previous, Z_pool, Z_labelled)
        else:
            nearest, squared = find_nearest(Z_pool, Z_labelled, self.block_elements)
            self.n_searched += Z_pool.shape[0]
        self._remember(Z_pool, Z_labelled, nearest, squared)
        return nearest, squared

    def _update(self, previous: _Round, Z_pool, Z_labelled) -> tuple[np.ndarray, np.ndarray]:
        n_old = previous.labelled.shape[0]
        old_nearest, old_squared, queried = previous.nearest, previous.squared, None
        if Z_labelled.shape[0] > n_old:
            new_nearest, new_squared = search_nearest(previous.pool, Z_labelled[n_old:],
                                               self.block_elements, known=old_squared)
            closer = new_squared < old_squared  # [N_old]; a tie keeps the lower, older row
            old_nearest = np.where(closer, new_nearest + n_old, old_nearest)
            old_squared = np.where(closer, new_squared, old_squared)
            queried = new_squared == 0  # old rows equal to a new labelled row
        source = _match(previous.pool, Z_pool, queried)  # [N] previous row of each row, or -1
        matched = source >= 0
        if matched.all():
            self.n_updated += Z_pool.shape[0]
            return old_nearest[source], old_squared[source]
        nearest = np.empty(Z_pool.shape[0], dtype=np.intp)
        squared = np.empty(Z_pool.shape[0])
        nearest[matched] = old_nearest[source[matched]]
        squared[matched] = old_squared[source[matched]]
        unmatched = np.flatnonzero(~matched)
        nearest[unmatched], squared[unmatched] = find_nearest(Z_pool[unmatched], Z_labelled,
                                                              self.block_elements)
        self.n_updated += Z_pool.shape[0] - unmatched.size
        self.n_searched += unmatched.size
        return nearest, squared

    def _remember(self, Z_pool, Z_labelled, nearest, squared) -> None:
        """Copy this call's codes (into the spare buffer when it fits) and keep its result."""
        buffer = self._spare
        if buffer is None or buffer.dtype != Z_pool.dtype or \
                buffer.shape[1:] != Z_pool.shape[1:] or buffer.shape[0] < Z_pool.shape[0]:
            buffer = np.empty_like(Z_pool)
        pool = buffer[: Z_pool.shape[0]]
        np.copyto(pool, Z_pool)
        self._spare = None if self._round is None else self._round.buffer
        self._round = _Round(pool, buffer, Z_labelled.copy(), nearest, squared)


def _match(old: np.ndarray, new: np.ndarray, queried: np.ndarray | None) -> np.ndarray:
    """Row of ``old`` [N_old, k] whose codes equal each row of ``new`` [N, k], -1 if none found.

    ``queried`` [N_old] marks the old rows equal to a new labelled row, or is None.
    """
    if new.shape == old.shape and np.array_equal(new, old):
        return np.arange(new.shape[0])
    if queried is not None:
        kept = np.flatnonzero(~queried)  # [N_old - |queried|]
        if kept.size == new.shape[0] and _equal_in_order(new, old, kept):
            return kept
    return _match_by_keys(old, new)


def _equal_in_order(new: np.ndarray, old: np.ndarray, kept: np.ndarray) -> bool:
    """Whether ``new`` equals ``old[kept]`` exactly, compared run by run of consecutive rows."""
    if kept.size == 0:
        return True
    breaks = np.flatnonzero(np.diff(kept) != 1) + 1  # where a run of consecutive rows ends
    if breaks.size >= _MAX_RUNS:
        return all(np.array_equal(new[start : start + _MATCH_ROWS],
                                  old[kept[start : start + _MATCH_ROWS]])
                   for start in range(0, kept.size, _MATCH_ROWS))
    starts = np.r_[0, breaks]
    stops = np.r_[breaks, kept.size]
    return all(np.array_equal(new[start:stop], old[kept[start] : kept[start] + stop - start])
               for start, stop in zip(starts.tolist(), stops.tolist(), strict=True))


def _row_hash(Z: np.ndarray) -> np.ndarray:
    """A 63-bit content key of every row (the first lane of :func:`row_keys`), [n] uint64.

    The multipliers come from a fixed seed, so the old and the new pool are keyed alike.
    """
    multipliers = draw_multipliers(words_per_row(Z), np.random.default_rng(_HASH_SEED), n_lanes=1)
    (lane,) = row_keys(Z, multipliers)
    return lane


def _match_by_keys(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """:func:`_match` in any order: sorted content keys, then an exact comparison."""
    source = np.full(new.shape[0], -1, dtype=np.intp)
    if old.shape[0] == 0 or new.shape[0] == 0:
        return source
    bits = max(old.shape[0], new.shape[0]).bit_length()  # low bits carry the row number
    low = np.uint64((1 << bits) - 1)
    old_keys = np.sort((_row_hash(old) & ~low) | np.arange(old.shape[0], dtype=np.uint64))
    new_keys = np.sort((_row_hash(new) & ~low) | np.arange(new.shape[0], dtype=np.uint64))
    position = np.minimum(np.searchsorted(old_keys & ~low, new_keys & ~low), old.shape[0] - 1)
    found = (old_keys[position] & ~low) == (new_keys & ~low)
    rows = (new_keys[found] & low).astype(np.intp)
    source[rows] = (old_keys[position[found]] & low).astype(np.intp)
    candidates = np.flatnonzero(source >= 0)
    for start in range(0, candidates.size, _MATCH_ROWS):
        rows = candidates[start : start + _MATCH_ROWS]
        equal = (new[rows] == old[source[rows]]).all(axis=1)  # the proof: exact codes
        source[rows[~equal]] = -1
    return source
