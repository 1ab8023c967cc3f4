"""The labelling loop: ids in rank order, late and partial answers, skips, and bad answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from modAL.uncertainty import margin_sampling
from sklearn.datasets import load_iris
from sklearn.neighbors import KNeighborsClassifier

from modal_ibal import random_sampling
from modal_ibal.labelling import SKIP, IdPool, LabellingLoop
from modal_ibal.labelling._curve import learning_curve


@pytest.fixture(scope="module")
def iris():
    data = load_iris(as_frame=True)
    frame = data.frame.drop(columns="target")
    frame.insert(0, "id", [f"iris-{row:06d}" for row in range(len(frame))])
    truth = dict(zip(frame["id"], data.target_names[data.target], strict=True))
    return frame, truth


def _answer(batch, truth, n=None):
    return {key: truth[key] for key in batch["id"][:n]}


def test_a_batch_is_ids_in_rank_order_with_scores(iris):
    frame, _ = iris
    batch = LabellingLoop(frame, id_column="id", batch_size=7).next_batch()
    assert list(batch.columns) == ["id", "rank", "score", "strategy_score"]
    assert batch["rank"].tolist() == list(range(1, 8))
    assert set(batch["id"]) <= set(frame["id"]) and batch["id"].is_unique
    np.testing.assert_allclose(batch["score"], (7 - batch["rank"] + 1) / 7)
    assert np.isfinite(batch["strategy_score"]).all()  # default_sampling gives its gains


def test_late_partial_answers_with_skips_are_taught_and_never_offered_again(iris):
    frame, truth = iris
    loop = LabellingLoop(frame, id_column="id", batch_size=10)
    first = loop.next_batch()
    answers = _answer(first, truth, 6)
    answers[first["id"][6]] = SKIP
    answers[first["id"][7]] = None  # not labelled yet
    report = loop.teach(answers)
    assert (report["labelled"], report["skipped"], report["pending"]) == (6, 1, 1)
    assert set(report["new_classes"]) <= set(truth.values())
    second = loop.next_batch()
    done = set(list(answers)[:7])
    assert not done & set(second["id"])
    late = {first["id"][7]: truth[first["id"][7]]}  # the pending one arrives later
    assert loop.teach(late)["labelled"] == 1
    assert loop.status()["n_labelled"] == 7 and loop.status()["n_skipped"] == 1


def test_giving_a_label_again_is_a_no_op(iris):
    frame, truth = iris
    loop = LabellingLoop(frame, id_column="id")
    answers = _answer(loop.next_batch(5), truth)
    loop.teach(answers)
    report = loop.teach(answers)
    assert report["labelled"] == 0 and report["unchanged"] == 5


def test_any_strategy_and_any_estimator(iris):
    frame, truth = iris
    for strategy in (margin_sampling, random_sampling):
        loop = LabellingLoop(frame, id_column="id", strategy=strategy,
                             estimator=KNeighborsClassifier(3), batch_size=6)
        loop.teach(_answer(loop.next_batch(), truth))  # cold start: default_sampling's coverage
        batch = loop.next_batch()
        assert len(batch) == 6 and not set(batch["id"]) & set(loop.labels)


def test_an_array_pool_with_integer_ids_finds_ids_given_as_text(iris):
    frame, truth = iris
    ids = np.arange(1000, 1000 + len(frame))
    loop = LabellingLoop(frame.drop(columns="id").to_numpy(), ids=ids, batch_size=4)
    batch = loop.next_batch()
    labels = {str(key): truth[f"iris-{key - 1000:06d}"] for key in batch["id"]}
    assert loop.teach(labels)["labelled"] == 4
    assert all(isinstance(key, int) for key in loop.labels)


def test_a_new_class_grows_the_classes_unless_they_were_fixed(iris):
    frame, _ = iris
    loop = LabellingLoop(frame, id_column="id")
    batch = loop.next_batch(3)
    report = loop.teach({batch["id"][0]: "setosa"})
    assert report["new_classes"] == ["setosa"]
    assert loop.teach({batch["id"][1]: "orchid"})["new_classes"] == ["orchid"]
    fixed = LabellingLoop(frame, id_column="id", classes=["setosa", "versicolor", "virginica"])
    with pytest.raises(ValueError, match="not among the classes"):
        fixed.teach({batch["id"][0]: "orchid"})
    assert fixed.labels == {} and fixed.step == 0


@pytest.mark.parametrize("answers, match", [
    ({"no-such-id": "setosa"}, "not in the pool"),
    ([("iris-000001", "setosa"), ("iris-000001", "virginica")], "answered twice"),
    ({}, "empty"),
    ([("iris-000001",)], "pair"),
    (pd.DataFrame({"point": ["iris-000001"], "label": ["setosa"]}), "no column"),
])
def test_bad_answers_teach_nothing(iris, answers, match):
    frame, _ = iris
    loop = LabellingLoop(frame, id_column="id")
    with pytest.raises(ValueError, match=match):
        loop.teach(answers)
    assert loop.labels == {} and loop.step == 0 and loop.signals == []


def test_a_label_contradicting_an_earlier_one_is_refused_whole(iris):
    frame, _ = iris
    loop = LabellingLoop(frame, id_column="id")
    loop.teach({"iris-000001": "setosa"})
    with pytest.raises(ValueError, match="already hold another label"):
        loop.teach({"iris-000002": "setosa", "iris-000001": "virginica"})
    assert loop.labels == {"iris-000001": "setosa"}  # iris-000002 was not taught either
    loop.relabel("iris-000001", "virginica")  # a correction on purpose
    assert loop.labels == {"iris-000001": "virginica"}


def test_answers_of_the_wrong_shape_are_a_type_error(iris):
    frame, _ = iris
    with pytest.raises(TypeError, match="mapping"):
        LabellingLoop(frame, id_column="id").teach("iris-000001")


@pytest.mark.parametrize("make, error, match", [
    (lambda f: IdPool(f[["sepal length (cm)"]].to_numpy(), ["a"] * len(f)), ValueError,
     "unique"),
    (lambda f: LabellingLoop(f), ValueError, "id_column"),
    (lambda f: LabellingLoop(f, id_column="name"), ValueError, "not in the table"),
    (lambda f: LabellingLoop(f.drop(columns="id").to_numpy()), ValueError, "ids"),
    (lambda f: LabellingLoop(f, id_column="id", batch_size=0), ValueError, "batch_size"),
    (lambda f: LabellingLoop(f, id_column="id", strategy="default"), TypeError, "strategy"),
    (lambda f: LabellingLoop(f.assign(species="x"), id_column="id",
                             feature_columns=["species"]), ValueError, "not numeric"),
    (lambda f: IdPool(np.full((3, 2), np.nan), [1, 2, 3]), ValueError, "NaN"),
    (lambda f: IdPool(np.ones((3, 2)), [1, "b", 3]), TypeError, "all ints or all strings"),
])
def test_bad_pools_and_options_are_refused_early(iris, make, error, match):
    with pytest.raises(error, match=match):
        make(iris[0])


def test_a_fully_labelled_pool_has_no_next_batch(iris):
    frame, truth = iris
    small = frame.iloc[:12]
    loop = LabellingLoop(small, id_column="id", batch_size=20)
    loop.teach({key: truth[key] for key in small["id"]})
    with pytest.raises(ValueError, match="nothing to query"):
        loop.next_batch()


def test_signals_after_each_teach_and_a_budget(iris):
    frame, truth = iris
    loop = LabellingLoop(frame, id_column="id", budget=20, batch_size=10)
    for _ in range(2):
        loop.teach(_answer(loop.next_batch(), truth))
    status = loop.status()
    assert set(status["signals"]) == {"stabilizing-predictions", "overall-uncertainty",
                                      "coverage-saturation", "label-budget"}
    assert status["signals"]["label-budget"] == {"value": 20.0, "stop": True}
    assert "label-budget" in status["stop"]
    assert [entry["n_labelled"] for entry in loop.signals] == [10, 20]


def test_a_skorch_net_on_a_float32_pool():
    """The pool keeps float32 for a float32 net; labels are the net's class indices."""
    import torch
    from sklearn.datasets import load_digits
    from skorch import NeuralNetClassifier

    X, y = load_digits(return_X_y=True)
    X = (X[:300] / 16).astype(np.float32)
    module = torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.ReLU(),
                                 torch.nn.Linear(16, 10))
    net = NeuralNetClassifier(module, criterion=torch.nn.CrossEntropyLoss, max_epochs=5,
                              lr=0.1, train_split=None, verbose=0, classes=np.arange(10))
    loop = LabellingLoop(X, ids=np.arange(300), estimator=net, batch_size=15,
                         stop_set_size=100)
    assert loop.pool.X.dtype == np.float32
    for _ in range(2):
        batch = loop.next_batch()
        loop.teach({int(key): int(y[key]) for key in batch["id"]})
    assert loop.status()["n_labelled"] == 30
    assert loop.signals[-1]["criteria"]["stabilizing-predictions"]["value"] is not None
    curve = learning_curve(loop, X[:50].astype(np.float64), y[:50])  # given as float64
    assert curve["n_labelled"].tolist() == [15, 30] and curve["accuracy"].between(0, 1).all()


def test_the_learning_curve_refits_on_the_labels_of_each_step(iris):
    frame, truth = iris
    loop = LabellingLoop(frame, id_column="id", batch_size=5)
    loop.teach({"iris-000000": "setosa"})  # one class: no model yet
    for _ in range(2):
        loop.teach(_answer(loop.next_batch(), truth))
    X_valid = frame.drop(columns="id").to_numpy()
    y_valid = np.array([truth[key] for key in frame["id"]])
    curve = learning_curve(loop, X_valid, y_valid)
    assert curve["n_labelled"].tolist() == [1, 6, 11]
    assert np.isnan(curve["accuracy"][0])
    for step in (2, 3):
        predicted = loop.fitted_model(step).predict(X_valid)
        assert curve["accuracy"][step - 1] == pytest.approx(np.mean(predicted == y_valid))


@pytest.mark.parametrize("missing", [None, np.nan, pd.NA, "", "  "])
def test_every_spelling_of_a_missing_label_is_pending(iris, missing):
    frame, _ = iris
    loop = LabellingLoop(frame, id_column="id")
    table = pd.DataFrame({"id": ["iris-000001", "iris-000002"],
                          "label": pd.Series(["setosa", missing], dtype=object)})
    report = loop.teach(table)
    assert (report["labelled"], report["pending"]) == (1, 1)
