"""Row blocks of one fixed size, so that a row's result never depends on its neighbours.

A matrix product's rounding depends on how many rows it multiplies at once:
BLAS libraries (MKL, OpenBLAS, oneDNN) switch kernels for small row counts, and
do so at CPU-dependent sizes. Measured with torch 2.14's CPU ``nn.Linear``: a
batch of fewer than 8 rows gives other float32 bits than the same rows in a
larger batch, on AVX-512 and on AVX2 kernels alike. A forward pass run on blocks
of one size, the last block padded, therefore gives identical rows identical
outputs whether the pool is read at once, in chunks, or in another order.
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["FORWARD_ROWS", "fixed_blocks", "pad_rows"]

FORWARD_ROWS = 512  # rows per forward pass, at most: every pass sees exactly this many or the batch size


def fixed_blocks(n_rows: int, rows: int) -> Iterator[slice]:
    """The slices ``[start, start + rows)`` that cover ``n_rows`` rows (the last may be short)."""
    for start in range(0, n_rows, rows):
        yield slice(start, min(start + rows, n_rows))


def pad_rows(batch, rows: int):
    """``batch`` (a torch tensor) with its last row repeated up to ``rows`` rows.

    Parameters
    ----------
    batch : torch.Tensor of shape (b, ...), b >= 1
    rows : int
        ``>= b``.

    Returns
    -------
    torch.Tensor of shape (rows, ...)
        The first ``b`` rows are ``batch``.
    """
    missing = rows - batch.shape[0]
    if missing <= 0:
        return batch
    import torch

    return torch.cat([batch, batch[-1:].expand(missing, *batch.shape[1:])])
