"""Seeds for every random choice of an experiment, derived from one integer per run.

An experiment seed ``k`` fixes the train/test split, the initial labelled set,
the model's initialisation and every stochastic query of every round. Each use
draws from its own stream, ``np.random.SeedSequence(k, spawn_key=(stream, ...))``,
so adding a strategy or a round never shifts the numbers another one sees, and
the same ``k`` always gives the same run.
"""

from __future__ import annotations

import numpy as np

__all__ = ["INITIAL", "MODEL", "QUERY", "SPLIT", "derive_seed"]

SPLIT = 0
INITIAL = 1
MODEL = 2
QUERY = 3


def derive_seed(seed: int, stream: int, *keys: int) -> int:
    """An integer in ``[0, 2**32)`` for ``stream`` (and ``keys``) of experiment seed ``seed``.

    Parameters
    ----------
    seed : int
        The experiment seed, ``>= 0``.
    stream : int
        One of :data:`SPLIT`, :data:`INITIAL`, :data:`MODEL`, :data:`QUERY`.
    *keys : int
        Further non-negative keys, e.g. the query round.

    Returns
    -------
    int
        Usable as ``random_state`` by numpy, scikit-learn and torch.
    """
    sequence = np.random.SeedSequence(int(seed), spawn_key=(int(stream), *map(int, keys)))
    return int(sequence.generate_state(1, dtype=np.uint32)[0])
