"""Naive references the engines are checked against: dense, slow and obviously right."""

from __future__ import annotations

import numpy as np

ALL = 10**9  # n_neighbors that covers every point: the untruncated kernel


def dense_kernel(Z: np.ndarray, bandwidth: float) -> np.ndarray:
    """k(x, c) for every pair, by the double difference."""
    squared = ((Z[:, None, :] - Z[None, :, :]) ** 2).sum(axis=2)  # [M, M]
    return np.exp(-squared / (2.0 * bandwidth**2))


def naive_herding(K: np.ndarray, n_labelled: int, n_instances: int, weights=None):
    """The exact greedy on a dense kernel, gains from scratch each pick, first index on ties."""
    n_points = K.shape[0]
    w = np.ones(n_points) if weights is None else weights
    m = K[:, :n_labelled].max(axis=1) if n_labelled else np.zeros(n_points)
    picks, gains = [], []
    for _ in range(n_instances):
        best, best_gain = -1, -np.inf
        for c in range(n_points - n_labelled):
            if c in picks:
                continue
            gain = sum(w[x] * max(0.0, K[x, n_labelled + c] - m[x]) for x in range(n_points))
            if gain > best_gain:
                best, best_gain = c, gain
        picks.append(best)
        gains.append(best_gain)
        m = np.maximum(m, K[:, n_labelled + best])
    return np.asarray(picks), np.asarray(gains)
