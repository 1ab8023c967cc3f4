"""The model's view of the pool: read whole when asked for, else streamed chunk by chunk."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from conftest import make_net
from sklearn.linear_model import LogisticRegression

from modal_ibal import ibal_distance_sampling, ibal_sampling
from modal_ibal._utils.blocks import MIN_FORWARD_ROWS
from modal_ibal.readers import labelled_view
from modal_ibal.scoring._importance import representer_importance


def set_pool_chunk(monkeypatch, rows: int) -> None:
    """Score pools ``rows`` at a time, in the representer math and in the pool scoring alike."""
    from modal_ibal.scoring import _importance as importance
    from modal_ibal.scoring import _representer as representer

    monkeypatch.setattr(representer, "POOL_CHUNK", rows)
    monkeypatch.setattr(importance, "POOL_CHUNK", rows)


@pytest.fixture(scope="module")
def wide_pool(digits):
    """900 noisy digits rows: several streamed chunks at the small chunk sizes below."""
    X, _ = digits
    rng = np.random.default_rng(3)
    rows = rng.integers(0, len(X), 900)
    return (X[rows] + 0.05 * rng.standard_normal((900, 64))).astype(np.float32)


@pytest.fixture
def net(split):
    X_labelled, y_labelled, _ = split
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make_net(max_epochs=3).fit(X_labelled, y_labelled)


def _count_reads(view, monkeypatch) -> list[int]:
    """Record the number of rows of every read of the final layer through ``view.layer``."""
    reads, read = [], view.layer.outputs

    def counting(X):
        reads.append(len(X))
        return read(X)

    monkeypatch.setattr(view.layer, "outputs", counting)
    return reads


@pytest.mark.parametrize("batch_size, chunk", [(64, 128), (100, 128), (4096, 16384), (7, 50)])
@pytest.mark.parametrize("reading", ["target", "class", "finetuned"])
def test_streamed_importance_equals_the_whole_pool_read_at_once(net, split, wide_pool, batch_size,
                                                                chunk, reading, monkeypatch):
    X_labelled, y_labelled, _ = split
    labelled = {"X_labelled": X_labelled, "y_labelled": y_labelled, "batch_size": batch_size}
    set_pool_chunk(monkeypatch, chunk)
    whole = labelled_view(net, wide_pool, **labelled)
    whole.pool  # noqa: B018 - read at once, then scored in slices of the same chunks
    expected = representer_importance(whole, reading=reading)
    streamed = labelled_view(net, wide_pool, **labelled)
    reads = _count_reads(streamed, monkeypatch)
    got = representer_importance(streamed, reading=reading)
    np.testing.assert_array_equal(got, expected)  # bitwise
    step = batch_size * -(-chunk // batch_size)  # the chunk rounded up to whole batches
    assert sum(reads) == len(wide_pool) and max(reads) == min(step, len(wide_pool))
    assert len(reads) == -(-len(wide_pool) // step)
    assert "pool" not in streamed.__dict__  # the whole pool's features were never kept


def test_ibal_sampling_never_holds_the_pool_features(net, split, wide_pool, monkeypatch):
    X_labelled, y_labelled, _ = split
    set_pool_chunk(monkeypatch, 128)
    read_rows = []
    hook = net.module_.output.register_forward_hook(
        lambda module, inputs, output: read_rows.append(len(inputs[0])))
    try:
        picks = ibal_sampling(net, wide_pool, 5, X_labelled=X_labelled, y_labelled=y_labelled,
                              batch_size=64)
    finally:
        hook.remove()
    # every forward pass sees 64 rows (a shorter batch padded to MIN_FORWARD_ROWS = 64); the
    # pool is read once
    assert set(read_rows) == {64}
    blocks = [-(-min(128, len(wide_pool) - start) // 64) for start in range(0, len(wide_pool), 128)]
    assert len(read_rows) == sum(blocks) + -(-len(X_labelled) // 64)
    monkeypatch.undo()
    np.testing.assert_array_equal(
        picks[0], ibal_sampling(net, wide_pool, 5, X_labelled=X_labelled, y_labelled=y_labelled,
                                batch_size=64)[0])


def test_ibal_distance_on_features_reads_the_pool_once(net, split, wide_pool):
    X_labelled, y_labelled, _ = split
    forward_rows = []
    hook = net.module_.output.register_forward_hook(
        lambda module, inputs, output: forward_rows.append(len(inputs[0])))
    try:
        ibal_distance_sampling(net, wide_pool, 5, X_labelled=X_labelled, y_labelled=y_labelled)
    finally:
        hook.remove()
    # one pass over each (the 40 labelled rows padded to MIN_FORWARD_ROWS)
    assert sorted(forward_rows) == sorted([len(wide_pool), max(len(X_labelled), MIN_FORWARD_ROWS)])


def test_a_tensor_pool_streams_like_an_array(net, split, wide_pool, monkeypatch):
    X_labelled, y_labelled, _ = split
    set_pool_chunk(monkeypatch, 128)
    as_tensor = labelled_view(net, torch.from_numpy(wide_pool), X_labelled=X_labelled,
                              y_labelled=y_labelled)
    as_array = labelled_view(net, wide_pool, X_labelled=X_labelled, y_labelled=y_labelled)
    np.testing.assert_array_equal(representer_importance(as_tensor),
                                  representer_importance(as_array))
    assert "pool" not in as_tensor.__dict__


def test_a_reader_without_a_row_block_reads_the_pool_whole(split, wide_pool, monkeypatch):
    X_labelled, y_labelled, _ = split
    model = LogisticRegression(max_iter=200).fit(X_labelled, y_labelled)
    set_pool_chunk(monkeypatch, 128)
    view = labelled_view(model, wide_pool, X_labelled=X_labelled, y_labelled=y_labelled)
    reads = _count_reads(view, monkeypatch)
    scores = representer_importance(view)
    assert reads == [len(wide_pool)] and "pool" in view.__dict__
    assert scores.shape == (len(wide_pool),) and np.isfinite(scores).all()


def test_streamed_pool_probabilities_equal_the_whole_read(net, split, wide_pool, monkeypatch):
    X_labelled, y_labelled, _ = split
    monkeypatch.setattr("modal_ibal.readers._outputs.STREAM_ROWS", 96)
    streamed = labelled_view(net, wide_pool, X_labelled=X_labelled, y_labelled=y_labelled,
                             batch_size=64)
    reads = _count_reads(streamed, monkeypatch)
    probas = streamed.pool_probabilities()
    assert max(reads) == 128 and "pool" not in streamed.__dict__
    whole = labelled_view(net, wide_pool, X_labelled=X_labelled, y_labelled=y_labelled,
                          batch_size=64)
    np.testing.assert_array_equal(probas, whole.pool.probas)
    np.testing.assert_array_equal(whole.pool_probabilities(), whole.pool.probas)


def test_fast_pool_probabilities_are_streamed(net, wide_pool, monkeypatch):
    from modal_ibal.readers import _outputs as outputs
    from modal_ibal.readers import pool_probabilities
    from modal_ibal.readers._last_layer import last_layer

    whole = last_layer(net, batch_size=64).outputs(wide_pool).probas
    monkeypatch.setattr(outputs, "STREAM_ROWS", 96)
    reads, read = [], outputs.LastLayer.outputs
    monkeypatch.setattr(outputs.LastLayer, "outputs",
                        lambda self, X: reads.append(len(X)) or read(self, X))
    np.testing.assert_array_equal(pool_probabilities(net, wide_pool, 64), whole)
    assert sum(reads) == len(wide_pool) and max(reads) == 128


class DictInput(torch.nn.Module):
    """A module fed a dict of arrays: skorch passes each key as a keyword."""

    def __init__(self):
        super().__init__()
        self.hidden = torch.nn.Linear(64, 16)
        self.output = torch.nn.Linear(16, 10)

    def forward(self, pixels):
        return self.output(torch.relu(self.hidden(pixels)))


def test_a_dict_pool_is_read_whole_and_scored_row_for_row(split, wide_pool):
    X_labelled, y_labelled, _ = split
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = make_net(DictInput, max_epochs=2).fit(X_labelled, y_labelled)
    view = labelled_view(net, {"pixels": wide_pool}, X_labelled=X_labelled,
                         y_labelled=y_labelled)
    scores = representer_importance(view)
    assert scores.shape == (len(wide_pool),) and np.isfinite(scores).all()


def test_a_view_refuses_pool_outputs_in_place_of_the_pool(net, split, wide_pool):
    from modal_ibal.readers._view import LabelledView

    X_labelled, y_labelled, _ = split
    view = labelled_view(net, wide_pool, X_labelled=X_labelled, y_labelled=y_labelled)
    with pytest.raises(TypeError, match="with_pool_outputs"):
        LabelledView(view.layer, view.pool, view.labelled, view.y_index, X_labelled)


def test_odd_batch_sizes_still_stream_in_bounded_chunks(net, split, wide_pool, monkeypatch):
    X_labelled, y_labelled, _ = split
    set_pool_chunk(monkeypatch, 256)
    view = labelled_view(net, wide_pool, X_labelled=X_labelled, y_labelled=y_labelled,
                         batch_size=100)  # 256 and 100 have a common multiple of 6,400
    reads = _count_reads(view, monkeypatch)
    representer_importance(view)
    assert reads == [300, 300, 300]
