"""Herding's option check: the options it fills in are herding_sampling's defaults."""

from __future__ import annotations

import inspect

from modal_ibal import herding_sampling
from modal_ibal.coverage._herding import check_herding_options


def test_options_left_out_take_herding_samplings_defaults():
    defaults = {name: parameter.default
                for name, parameter in inspect.signature(herding_sampling).parameters.items()}
    options = check_herding_options(10, n_neighbors=5, bandwidth=None, weights=None,
                                    temperature=None, algorithm="auto")
    assert options.normalize_rows is defaults["normalize_rows"] is True
    assert options.concave_clusters is defaults["concave_clusters"] is False
    assert (options.n_neighbors, options.bandwidth, options.weights, options.temperature,
            options.algorithm) == (5, None, None, None, "auto")
