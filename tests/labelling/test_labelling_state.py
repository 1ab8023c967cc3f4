"""Saving and resuming a labelling loop: atomic, refused when damaged, edited or of another pool."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris

from modal_ibal.labelling import DamagedStateError, LabellingLoop, load_state
from modal_ibal.labelling._state import STATE_FILE


@pytest.fixture(scope="module")
def iris():
    data = load_iris(as_frame=True)
    frame = data.frame.drop(columns="target")
    frame.insert(0, "id", [f"iris-{row:06d}" for row in range(len(frame))])
    return frame, dict(zip(frame["id"], data.target_names[data.target], strict=True))


def _taught(frame, truth, rounds=2):
    loop = LabellingLoop(frame, id_column="id", batch_size=8)
    for _ in range(rounds):
        batch = loop.next_batch()
        answers = {key: truth[key] for key in batch["id"][:6]}
        answers[batch["id"][6]] = "skip"
        loop.teach(answers)
    return loop


def test_a_resumed_loop_continues_exactly_where_it_stopped(iris, tmp_path):
    frame, truth = iris
    loop = _taught(frame, truth)
    loop.save(tmp_path)
    resumed = LabellingLoop.resume(tmp_path, frame, id_column="id")
    assert resumed.labels == loop.labels and resumed.skipped == loop.skipped
    assert resumed.signals == json.loads(json.dumps(loop.signals))
    assert resumed.status() == json.loads(json.dumps(loop.status()))
    pd.testing.assert_frame_equal(resumed.next_batch(), loop.next_batch())
    batch = loop.next_batch()
    answers = {key: truth[key] for key in batch["id"]}
    signals = loop.teach(answers)["signals"]
    resumed_signals = resumed.teach(answers)["signals"]
    for name, signal in signals.items():  # the kappa compares with the saved predictions
        assert resumed_signals[name]["stop"] == signal["stop"]
        if signal["value"] is not None:
            assert resumed_signals[name]["value"] == pytest.approx(signal["value"], abs=1e-9)


def test_a_process_killed_while_saving_leaves_the_last_good_state(iris, tmp_path):
    frame, truth = iris
    loop = _taught(frame, truth, rounds=1)
    loop.save(tmp_path)
    good = (tmp_path / STATE_FILE).read_bytes()
    script = textwrap.dedent(f"""
        import os, signal
        import pandas as pd
        from sklearn.datasets import load_iris
        from modal_ibal.labelling import LabellingLoop
        data = load_iris(as_frame=True)
        frame = data.frame.drop(columns="target")
        frame.insert(0, "id", [f"iris-{{row:06d}}" for row in range(len(frame))])
        loop = LabellingLoop.resume({str(tmp_path)!r}, frame, id_column="id")
        batch = loop.next_batch()
        loop.teach({{key: "setosa" for key in batch["id"][:1]}})
        os.replace = lambda *args: os.kill(os.getpid(), signal.SIGKILL)  # die mid-save
        loop.save({str(tmp_path)!r})
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert result.returncode == -9, result.stderr.decode()[-2000:]
    assert (tmp_path / STATE_FILE).read_bytes() == good
    resumed = LabellingLoop.resume(tmp_path, frame, id_column="id")
    assert resumed.labels == loop.labels


def test_an_edited_state_is_refused_whole(iris, tmp_path):
    frame, truth = iris
    _taught(frame, truth).save(tmp_path)
    path = tmp_path / STATE_FILE
    document = json.loads(path.read_text())
    document["content"]["labels"][0][1] = "edited by hand"
    path.write_text(json.dumps(document))
    with pytest.raises(DamagedStateError, match="checksum"):
        LabellingLoop.resume(tmp_path, frame, id_column="id")


@pytest.mark.parametrize("damage, match", [
    (lambda text: text[: len(text) // 2], "not whole JSON"),
    (lambda text: "", "not whole JSON"),
    (lambda text: json.dumps({"format": "something else"}), "not a modal-ibal"),
    (lambda text: text.replace('"version": 1', '"version": 99'), "version"),
])
def test_a_damaged_state_is_refused(iris, tmp_path, damage, match):
    frame, truth = iris
    _taught(frame, truth, rounds=1).save(tmp_path)
    path = tmp_path / STATE_FILE
    path.write_text(damage(path.read_text()))
    with pytest.raises(DamagedStateError, match=match):
        load_state(tmp_path)


def test_a_state_from_another_pool_is_refused(iris, tmp_path):
    frame, truth = iris
    _taught(frame, truth, rounds=1).save(tmp_path)
    other = frame.assign(**{"sepal length (cm)": frame["sepal length (cm)"] + 0.1})
    with pytest.raises(ValueError, match="another pool"):
        LabellingLoop.resume(tmp_path, other, id_column="id")
    reordered = frame.iloc[::-1].reset_index(drop=True)
    with pytest.raises(ValueError, match="another pool"):
        LabellingLoop.resume(tmp_path, reordered, id_column="id")


def test_no_state_is_a_clear_error(tmp_path, iris):
    with pytest.raises(FileNotFoundError, match="No labelling state"):
        LabellingLoop.resume(tmp_path, iris[0], id_column="id")


def test_integer_ids_and_labels_survive_the_round_trip(tmp_path):
    rng = np.random.RandomState(0)
    X, ids = rng.rand(60, 3), np.arange(500, 560)
    loop = LabellingLoop(X, ids=ids, batch_size=5)
    batch = loop.next_batch()
    loop.teach({int(key): int(index % 2) for index, key in enumerate(batch["id"])})
    loop.save(tmp_path)
    resumed = LabellingLoop.resume(tmp_path, X, ids=ids)
    assert resumed.labels == loop.labels
    assert all(isinstance(key, int) and isinstance(value, int)
               for key, value in resumed.labels.items())
