"""The pool's probabilities: the batched read of a skorch net only where it gives predict_proba's."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from conftest import TinyMLP, make_net

from modal_ibal.readers import labelled_view, pool_probabilities
from modal_ibal.scoring._uncertainty import modal_margin


class _Tempered(TinyMLP):
    """TinyMLP whose output is its final nn.Linear's, scaled: softmax of the layer is not predict_proba."""

    def forward(self, X):
        return 1.05 * super().forward(X)


def _sharpened(logits):
    """Softmax, with confident rows (top probability above 0.9) made one-hot."""
    p = torch.softmax(logits, dim=-1)
    top = p.max(dim=-1, keepdim=True).values
    return torch.where(top > 0.9, (p == top).to(p.dtype), p)


def _blobs(seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(60) % 3
    centres = rng.normal(scale=2.0, size=(3, 16))
    return (centres[y] + rng.normal(size=(60, 16))).astype(np.float32), y


def _fit(module, **options):
    X, y = _blobs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make_net(module, n_classes=3, max_epochs=3, **options).fit(X, y), X


@pytest.fixture(scope="module")
def plain_net():
    return _fit(TinyMLP(n_features=16, n_classes=3))


def test_a_net_whose_output_is_not_its_final_layer_gets_predict_proba():
    net, X = _fit(_Tempered(n_features=16, n_classes=3))
    expected = net.predict_proba(X)
    assert np.abs(torch.softmax(torch.from_numpy(expected), -1).numpy() - expected).max() > 0
    np.testing.assert_allclose(pool_probabilities(net, X, 16), expected, rtol=1e-6, atol=1e-7)


def test_a_net_with_its_own_predict_nonlinearity_gets_predict_proba_on_every_row():
    net, X = _fit(TinyMLP(n_features=16, n_classes=3), predict_nonlinearity=_sharpened)
    probas = net.predict_proba(X)
    order = np.argsort(probas.max(axis=1), kind="stable")  # uncertain rows first
    X, probas = X[order], probas[order]
    assert probas[:8].max() < 0.9 and (probas == 1.0).any()  # softmax up front, one-hot later
    np.testing.assert_allclose(pool_probabilities(net, X, 16), probas, rtol=1e-6, atol=1e-7)


def test_outputs_read_already_save_the_pool_forward_pass(plain_net):
    net, X = plain_net
    view = labelled_view(net, X[10:], X_labelled=X[:10], y_labelled=np.arange(10) % 3)
    outputs = view.pool
    rows = []
    hook = net.module_.register_forward_hook(lambda module, args, out: rows.append(len(out)))
    try:
        probas = pool_probabilities(net, X[10:], 16, outputs=outputs)
    finally:
        hook.remove()
    assert sum(rows) == 8  # only the check of the first samples against predict_proba
    np.testing.assert_array_equal(probas, outputs.probas.astype(np.float64))


def test_a_dict_of_inputs_is_read_through_predict_proba(plain_net):
    net, X = plain_net
    got = pool_probabilities(net, {"X": X[:12]}, 16)
    assert got.shape == (12, 3) and got.dtype == np.float64
    np.testing.assert_allclose(got, net.predict_proba(X[:12]), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_margin_is_the_float64_gap_of_the_top_two(dtype):
    P = np.random.default_rng(3).dirichlet(np.ones(4), size=10).astype(dtype)
    top = np.sort(P.astype(np.float64), axis=1)
    got = modal_margin(P)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, top[:, -1] - top[:, -2], rtol=1e-15, atol=0.0)
