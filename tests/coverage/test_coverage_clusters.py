"""The clusters of concave herding: their number, their generator and extreme code magnitudes."""

from __future__ import annotations

import warnings

import numpy as np

from modal_ibal.coverage._concave import cluster_random_state, coverage_clusters


def test_cluster_generator_follows_the_random_state_and_seeds_zero_for_none():
    draws = cluster_random_state(5).randint(10**6, size=8)
    np.testing.assert_array_equal(draws, np.random.RandomState(5).randint(10**6, size=8))
    np.testing.assert_array_equal(cluster_random_state(None).randint(10**6, size=8),
                                  np.random.RandomState(0).randint(10**6, size=8))
    generator = np.random.RandomState(7)
    assert cluster_random_state(generator) is generator


def test_no_more_clusters_than_points():
    Z = np.random.default_rng(1).normal(size=(8, 3))  # n + N = 8 < n + B = 13
    labels = coverage_clusters(Z, 3, 10, np.random.RandomState(0))
    np.testing.assert_array_equal(np.sort(np.unique(labels)), np.arange(8))


def test_max_clusters_caps_the_number_of_clusters():
    Z = np.random.default_rng(2).normal(size=(60, 3))
    labels = coverage_clusters(Z, 10, 10, np.random.RandomState(0), max_clusters=4)
    np.testing.assert_array_equal(np.sort(np.unique(labels)), np.arange(4))


def test_float32_codes_beyond_the_safe_range_give_the_partition_of_the_codes():
    Z = np.random.default_rng(3).normal(size=(200, 4)).astype(np.float32)
    expected = coverage_clusters(Z, 10, 10, np.random.RandomState(0))
    for exponent in (70, -80):  # squared distances would overflow / underflow in float32
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            labels = coverage_clusters(np.ldexp(Z, exponent), 10, 10, np.random.RandomState(0))
        np.testing.assert_array_equal(labels, expected)
