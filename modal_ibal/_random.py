"""The caller's global random state, kept as it was across a call into the library.

A query must not change numpy's, Python's or torch's global generators: a user's
own seeded code after a query would otherwise draw different numbers. Some
library calls cannot avoid drawing (skorch's ``predict_proba`` builds a
``DataLoader``, which takes a seed from torch's default generator), so the
states are saved before and restored after.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import numpy as np

__all__ = ["preserved_global_random_state"]


@contextlib.contextmanager
def preserved_global_random_state() -> Iterator[None]:
    """Restore numpy's, Python's and torch's (CPU and initialised CUDA) generators on exit."""
    import torch

    numpy_state = np.random.get_state()  # noqa: NPY002 (the global state is what is kept)
    python_state = random.getstate()
    torch_state = torch.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    try:
        yield
    finally:
        np.random.set_state(numpy_state)  # noqa: NPY002
        random.setstate(python_state)
        torch.set_rng_state(torch_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)
