"""The caller's random state, kept across a call; seeded torch training.

A query must not change numpy's, Python's or torch's global generators: a user's
own seeded code after a query would otherwise draw different numbers. Some
library calls cannot avoid drawing (skorch's ``predict_proba`` builds a
``DataLoader``, which takes a seed from torch's default generator), so the
states are saved before and restored after.

Seeded torch training that leaves every generator outside it as it was.

``torch.manual_seed`` seeds the CPU generator and the generator of every CUDA
device, while ``torch.random.fork_rng`` restores only the generators it forks
(the CPU one and the devices it is given). Seeding with ``torch.manual_seed``
inside a fork of the CPU generator alone therefore re-seeds the caller's CUDA
generators for good. :func:`seeded_torch_rng` forks the CPU generator and the
training device's CUDA generator, and seeds exactly those two.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from .locks import SharedHold

__all__ = ["preserved_global_random_state", "seeded_torch_rng"]


@contextlib.contextmanager
def preserved_global_random_state() -> Iterator[None]:
    """Restore numpy's, Python's and torch's (CPU and initialised CUDA) generators on exit.

    Safe when several threads query at once: the first context to enter saves the
    states and the last to leave restores them, so a thread never restores a
    state that another thread's draws left behind. (Draws that the caller's own
    threads make while a query runs are undone with it.)
    """
    with _GLOBAL_STATES.held():
        yield


def _global_states() -> tuple:
    """numpy's, Python's, torch's CPU and (when initialised) CUDA generator states."""
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    return (np.random.get_state(),  # noqa: NPY002 (the global state is what is kept)
            random.getstate(), torch.get_rng_state(), cuda_states)


def _restore(states: tuple) -> None:
    numpy_state, python_state, torch_state, cuda_states = states
    np.random.set_state(numpy_state)  # noqa: NPY002
    random.setstate(python_state)
    torch.set_rng_state(torch_state)
    if cuda_states is not None:
        torch.cuda.set_rng_state_all(cuda_states)


_GLOBAL_STATES = SharedHold(_global_states, _restore)


@contextmanager
def seeded_torch_rng(seed: int, device: str | torch.device | None = None) -> Iterator[None]:
    """Fork torch's CPU generator (and ``device``'s, for a CUDA device) and seed the forks.

    Parameters
    ----------
    seed : int
        The seed of the forked generators, in ``[0, 2**64)``.
    device : str, torch.device or None, default=None
        The device that training runs on. A CUDA device (``"cuda"`` means the
        current one) has its generator forked and seeded too; the generators
        of other CUDA devices and of other accelerators are neither read nor
        changed. None means the CPU.

    Yields
    ------
    None
        Inside the block, torch's CPU generator (and the CUDA device's) start
        from ``seed``; after it, every torch generator holds the state it had
        before.

    Notes
    -----
    On the CPU the draws inside the block are those after
    ``torch.manual_seed(seed)``: seeding one generator or all of them gives
    the CPU generator the same state.
    """
    device = torch.device("cpu" if device is None else device)
    index = None
    if device.type == "cuda" and torch.cuda.is_available():
        index = device.index if device.index is not None else torch.cuda.current_device()
    with torch.random.fork_rng(devices=[] if index is None else [index], device_type="cuda"):
        torch.default_generator.manual_seed(seed)
        if index is not None:
            # fork_rng has read this device's state, so CUDA is initialised here
            torch.cuda.default_generators[index].manual_seed(seed)
        yield
