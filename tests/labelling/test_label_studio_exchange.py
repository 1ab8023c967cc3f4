"""Label Studio's formats, on the files a real Label Studio 1.23.2 produced (fixtures/label_studio).

The fixtures' README says how they were made: six iris tasks imported, four labelled,
one of them corrected later (versicolor, then virginica), one skipped, one left.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_iris

from modal_ibal.labelling import LabellingLoop
from modal_ibal.labelling._files import read_answer_file, write_batch
from modal_ibal.labelling._label_studio import (
    label_studio_config,
    label_studio_tasks,
    read_label_studio_export,
)

FIXTURES = Path(__file__).parent / "fixtures" / "label_studio"
LABELLED = {"iris-000017": "setosa", "iris-000051": "versicolor", "iris-000103": "virginica",
            "iris-000077": "virginica"}  # the correction wins over the first answer


@pytest.fixture(scope="module")
def iris():
    data = load_iris(as_frame=True)
    frame = data.frame.drop(columns="target")
    frame.insert(0, "id", [f"iris-{row:06d}" for row in range(len(frame))])
    return frame


def _answers(name: str) -> dict:
    frame = read_answer_file(FIXTURES / name)
    return {key: (None if pd.isna(label) else label)
            for key, label in zip(frame["id"], frame["label"], strict=True)}


def test_the_tasks_written_are_the_tasks_label_studio_imported(iris):
    imported = json.loads((FIXTURES / "tasks.json").read_text())
    ids = [task["data"]["pool_id"] for task in imported]
    batch = pd.DataFrame({"id": ids, "rank": range(1, 7),
                          "score": [(6 - rank + 1) / 6 for rank in range(1, 7)]})
    rows = iris.set_index("id").loc[ids]
    written = label_studio_tasks(batch, rows.to_numpy(), list(rows.columns),
                                 model_version="modal-ibal default")
    for ours, theirs in zip(written, imported, strict=True):
        assert ours["data"] == theirs["data"]
        ours_prediction, their_prediction = ours["predictions"][0], theirs["predictions"][0]
        assert ours_prediction["score"] == pytest.approx(their_prediction["score"], abs=1e-3)
        assert {**ours_prediction, "score": 0} == {**their_prediction, "score": 0}


def test_label_studio_stored_the_rank_as_the_prediction_score():
    tasks = json.loads((FIXTURES / "api_tasks_fields_all.json").read_text())
    tasks = tasks["tasks"] if isinstance(tasks, dict) else tasks
    scores = {task["data"]["pool_id"]: task["predictions_score"] for task in tasks}
    ranks = {task["data"]["pool_id"]: task["data"]["rank"] for task in tasks}
    ordered = sorted(scores, key=scores.get, reverse=True)
    assert [ranks[key] for key in ordered] == list(range(1, 7))


def test_the_labelling_config_is_the_one_label_studio_accepted():
    readme = (FIXTURES / "README.md").read_text()
    accepted = re.search(r"```xml\n(.*?)```", readme, flags=re.S).group(1)
    assert label_studio_config(["setosa", "versicolor", "virginica"]) == accepted


def test_the_json_export_gives_labels_the_correction_and_the_skip():
    assert _answers("export.json") == {**LABELLED, "iris-000002": "skip"}


def test_the_json_export_of_all_tasks_also_gives_the_pending_one():
    assert _answers("export_all.json") == {**LABELLED, "iris-000002": "skip",
                                           "iris-000140": None}


@pytest.mark.parametrize("name", ["export_min.json", "export.csv"])
def test_the_flat_exports_give_the_latest_labels_and_no_skips(name):
    assert _answers(name) == LABELLED


@pytest.mark.filterwarnings("ignore::modal_ibal.UninformativeWeightsWarning")
def test_a_loop_is_taught_from_the_real_export(iris):
    loop = LabellingLoop(iris, id_column="id")
    report = loop.teach(read_answer_file(FIXTURES / "export_all.json"))
    assert (report["labelled"], report["skipped"], report["pending"]) == (4, 1, 1)
    assert loop.labels == LABELLED and list(loop.skipped) == ["iris-000002"]
    assert "iris-000002" not in set(loop.next_batch(146)["id"])


def test_a_batch_written_as_json_is_label_studio_tasks(iris, tmp_path):
    loop = LabellingLoop(iris, id_column="id", batch_size=5)
    batch = loop.next_batch()
    path = write_batch(tmp_path / "tasks.json", batch, loop.pool)
    tasks = json.loads(path.read_text())
    assert [task["data"]["pool_id"] for task in tasks] == batch["id"].tolist()
    assert [task["predictions"][0]["score"] for task in tasks] == pytest.approx(
        batch["score"].tolist())
    row = iris.set_index("id").loc[tasks[0]["data"]["pool_id"]]
    assert tasks[0]["data"]["item"] == pytest.approx(row.to_dict())


def _export() -> list:
    return json.loads((FIXTURES / "export.json").read_text())


def test_an_annotation_with_two_choices_is_refused():
    data = copy.deepcopy(_export())
    data[0]["annotations"][0]["result"][0]["value"]["choices"] = ["setosa", "virginica"]
    with pytest.raises(ValueError, match="one choice"):
        read_label_studio_export(data)


@pytest.mark.parametrize("data, match", [
    ({"tasks": []}, "not a Label Studio export"),
    ([], "not a Label Studio export"),
    ([{"data": {"text": "a"}, "annotations": []}], "pool_id"),
    ([{"id": 1, "label": "setosa"}], "pool_id"),
])
def test_exports_not_made_from_a_batch_are_refused(data, match):
    with pytest.raises(ValueError, match=match):
        read_label_studio_export(data)


def test_a_broken_json_file_is_a_clear_error(tmp_path):
    path = tmp_path / "export.json"
    path.write_text((FIXTURES / "export.json").read_text()[:100])
    with pytest.raises(ValueError, match="not whole JSON"):
        read_answer_file(path)


def test_classes_of_a_config_must_be_distinct():
    with pytest.raises(ValueError, match="distinct"):
        label_studio_config(["a", "a"])
    from xml.etree import ElementTree

    choice = ElementTree.fromstring(label_studio_config(['say "hi" & <go>'])).find(".//Choice")
    assert choice.get("value") == 'say "hi" & <go>'
