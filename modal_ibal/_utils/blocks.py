"""Row blocks for forward passes, never so short that a row's result depends on its neighbours.

A matrix product's rounding depends on how many rows it multiplies at once when
there are few: BLAS libraries switch to other kernels for a handful of rows.
Measured with torch 2.14's CPU ``nn.Linear``: a batch of fewer than 8 rows gives
other float32 bits than the same rows in a larger batch, on AVX-512 and on AVX2
kernels alike, while every batch of 8 rows or more gives the same bits. A forward
pass whose short batches are padded to ``MIN_FORWARD_ROWS`` (eight times that
threshold) therefore gives identical rows identical outputs whether the pool is
read at once, in chunks, or in another order.
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["MIN_FORWARD_ROWS", "fixed_blocks", "pad_rows"]

MIN_FORWARD_ROWS = 64  # a shorter batch is padded to this many rows before a forward pass


def fixed_blocks(n_rows: int, rows: int) -> Iterator[slice]:
    """The slices ``[start, start + rows)`` that cover ``n_rows`` rows (the last may be short)."""
    for start in range(0, n_rows, rows):
        yield slice(start, min(start + rows, n_rows))


def pad_rows(batch, rows: int = MIN_FORWARD_ROWS):
    """``batch`` (a torch tensor) with its last row repeated up to ``rows`` rows, if shorter.

    Parameters
    ----------
    batch : torch.Tensor of shape (b, ...), b >= 1
    rows : int, default=MIN_FORWARD_ROWS

    Returns
    -------
    torch.Tensor of shape (max(b, rows), ...)
        The first ``b`` rows are ``batch``.
    """
    missing = rows - batch.shape[0]
    if missing <= 0:
        return batch
    import torch

    return torch.cat([batch, batch[-1:].expand(missing, *batch.shape[1:])])
