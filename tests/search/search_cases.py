"""Code sets the nearest-labelled search must get exactly right, and references to check it by."""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist
from sklearn.neighbors import NearestNeighbors


def brute_force(Z_pool, Z_labelled):
    distances = cdist(np.asarray(Z_pool, np.float64), np.asarray(Z_labelled, np.float64))
    return distances.argmin(axis=1), distances.min(axis=1)


def double_loop(Z_pool, Z_labelled):
    """The float64 reference: every pair's squared distance, first minimum, its square root."""
    Z_pool = np.asarray(Z_pool, np.float64).reshape(len(Z_pool), -1)
    Z_labelled = np.asarray(Z_labelled, np.float64).reshape(len(Z_labelled), -1)
    nearest = np.zeros(len(Z_pool), dtype=np.intp)
    distance = np.zeros(len(Z_pool))
    for i, z in enumerate(Z_pool):
        squared = [np.sum((z - t) ** 2) for t in Z_labelled]
        nearest[i] = int(np.argmin(squared))  # the first of equal minima
        distance[i] = np.sqrt(squared[nearest[i]])
    return nearest, distance


def float32_winner(Z_pool, Z_labelled):
    """What float32 screening alone would pick: the expansion in float32, no re-check."""
    pool = np.asarray(Z_pool, np.float32)
    labelled = np.asarray(Z_labelled, np.float32)
    scores = (labelled**2).sum(axis=1) - 2.0 * pool @ labelled.T  # [N, n] float32
    return scores.argmin(axis=1)


def near_ties(rng):
    """Pool points almost equidistant from several labelled points: float32 cannot rank them."""
    pool = rng.standard_normal((40, 6)) * 10.0
    directions = rng.standard_normal((40, 3, 6))
    directions /= np.linalg.norm(directions, axis=2, keepdims=True)
    radii = 1.0 + rng.integers(-3, 4, (40, 3)) * 1e-12  # distances equal up to 3e-12
    labelled = (pool[:, None, :] + radii[..., None] * directions).reshape(120, 6)
    return pool, labelled[rng.permutation(120)]


def datasets():
    rng = np.random.default_rng(7)
    offset = 1e4 + rng.standard_normal((1, 5))
    cases = {
        "normal float32": (rng.standard_normal((90, 5)).astype(np.float32),
                           rng.standard_normal((33, 5)).astype(np.float32)),
        "near ties": near_ties(rng),
        "large offset": (offset + 1e-3 * rng.standard_normal((60, 5)),
                         offset + 1e-3 * rng.standard_normal((25, 5))),
        "tiny scale": (1e-30 * rng.standard_normal((50, 4)), 1e-30 * rng.standard_normal((20, 4))),
        "huge scale": (1e30 * rng.standard_normal((50, 4)), 1e30 * rng.standard_normal((20, 4))),
        "far pool": (np.vstack([1e35 * rng.standard_normal((10, 3)), rng.standard_normal((10, 3))]),
                     rng.standard_normal((15, 3))),
        "duplicates": (rng.integers(0, 3, (70, 3)).astype(np.float64),
                       rng.integers(0, 3, (30, 3)).astype(np.float64)),
        "integers": (rng.integers(-5, 5, (50, 4)), rng.integers(-5, 5, (12, 4))),
        "float16": (rng.standard_normal((40, 4)).astype(np.float16),
                    rng.standard_normal((9, 4)).astype(np.float16)),
        "one labelled": (rng.standard_normal((20, 3)), rng.standard_normal((1, 3))),
        "equal labelled": (rng.standard_normal((20, 3)), np.full((6, 3), 0.1)),
        "no dimensions": (np.zeros((5, 0)), np.zeros((3, 0))),
    }
    return cases


DATASETS = datasets()


def blobs(n_points: int, n_dims: int = 8, seed: int = 0) -> np.ndarray:
    """Points around 30 Gaussian centres: clusters with borders, as real codes have."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(30, n_dims)) * 3
    return (centres[rng.integers(0, 30, n_points)]
            + rng.normal(size=(n_points, n_dims))).astype(np.float32)


def true_neighbours(Z: np.ndarray, k: int) -> np.ndarray:
    return NearestNeighbors(n_neighbors=k).fit(Z).kneighbors(Z, return_distance=False)


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    hits = (found[:, :, None] == truth[:, None, :]).any(axis=2)  # [M, k]
    return float(hits.mean())
