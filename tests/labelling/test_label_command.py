"""``modal-ibal label``: start, next, teach and status from files; bad files exit 2, lose nothing."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split

from modal_ibal.experiments._cli import main
from modal_ibal.labelling._state import STATE_FILE


@pytest.fixture
def files(tmp_path, monkeypatch):
    data = load_iris(as_frame=True)
    frame = data.frame.rename(columns={"target": "species"})
    frame["species"] = data.target_names[frame["species"]]
    pool, valid = train_test_split(frame, test_size=0.3, random_state=0,
                                   stratify=frame["species"])
    pool = pool.reset_index(drop=True)
    pool.insert(0, "id", [f"p{row:03d}" for row in range(len(pool))])
    pool.drop(columns="species").to_csv(tmp_path / "pool.csv", index=False)
    valid.to_csv(tmp_path / "valid.csv", index=False)
    monkeypatch.chdir(tmp_path)
    return dict(zip(pool["id"], pool["species"], strict=True))


def _fill(path, truth, skip=()):
    batch = pd.read_csv(path)
    batch["label"] = [("skip" if key in skip else truth[key]) for key in batch["id"]]
    batch.to_csv(path, index=False)


def test_a_whole_session_from_files(files, tmp_path, capsys):
    assert main(["label", "start", "work", "--pool", "pool.csv", "--id-column", "id",
                 "--batch", "8"]) == 0
    assert main(["label", "next", "work", "--out", "batch.csv"]) == 0
    batch = pd.read_csv("batch.csv")
    assert list(batch.columns[:3]) == ["id", "rank", "score"] and batch["label"].isna().all()
    _fill("batch.csv", files, skip={batch["id"][0]})
    assert main(["label", "teach", "work", "batch.csv"]) == 0
    assert "7 labelled, 1 skipped" in capsys.readouterr().out
    assert main(["label", "next", "work", "--out", "batch2.parquet", "--size", "5"]) == 0
    assert len(pd.read_parquet("batch2.parquet")) == 5
    assert main(["label", "status", "work", "--validation", "valid.csv",
                 "--label-column", "species"]) == 0
    out = capsys.readouterr().out
    assert "labels: 7 of 105 points (1 skipped, 2 batches handed out)" in out
    assert "validation: accuracy" in out and (tmp_path / "work" / "learning_curve.png").is_file()


def test_label_studio_tasks_and_config_from_the_command_line(files, capsys):
    main(["label", "start", "work", "--pool", "pool.csv", "--id-column", "id"])
    assert main(["label", "next", "work", "--out", "tasks.json", "--size", "3"]) == 0
    tasks = json.loads(open("tasks.json").read())
    assert [task["data"]["rank"] for task in tasks] == [1, 2, 3]
    assert main(["label", "studio-config", "--classes", "setosa,versicolor,virginica",
                 "--out", "config.xml"]) == 0
    assert '<Choice value="virginica"/>' in open("config.xml").read()


def _state(tmp_path):
    return (tmp_path / "work" / STATE_FILE).read_bytes()


@pytest.mark.parametrize("content, match", [
    ("", "is empty"),
    ("id,label\n", "holds no rows"),
    ("point,answer\np001,setosa\n", "no column"),
    ("id,label\nnot-an-id,setosa\n", "not in the pool"),
    ("id,label\np001,setosa\np001,virginica\n", "answered twice"),
    ('id,label\n"p001,setosa\n', "not a readable csv"),
])
def test_a_bad_answer_file_exits_2_and_changes_nothing(files, tmp_path, capsys, content, match):
    main(["label", "start", "work", "--pool", "pool.csv", "--id-column", "id"])
    before = _state(tmp_path)
    (tmp_path / "answers.csv").write_text(content)
    assert main(["label", "teach", "work", "answers.csv"]) == 2
    assert match in capsys.readouterr().err
    assert _state(tmp_path) == before


def test_a_label_contradicting_an_earlier_one_exits_2(files, tmp_path, capsys):
    main(["label", "start", "work", "--pool", "pool.csv", "--id-column", "id"])
    (tmp_path / "a.csv").write_text("id,label\np001,setosa\n")
    (tmp_path / "b.csv").write_text("id,label\np001,virginica\n")
    assert main(["label", "teach", "work", "a.csv"]) == 0
    before = _state(tmp_path)
    assert main(["label", "teach", "work", "b.csv"]) == 2
    assert "already hold another label" in capsys.readouterr().err
    assert _state(tmp_path) == before


def test_a_changed_pool_file_is_refused(files, tmp_path, capsys):
    main(["label", "start", "work", "--pool", "pool.csv", "--id-column", "id"])
    pool = pd.read_csv("pool.csv")
    pool.iloc[:-1].to_csv("pool.csv", index=False)
    assert main(["label", "next", "work", "--out", "batch.csv"]) == 2
    assert "another pool" in capsys.readouterr().err


def test_a_damaged_state_exits_2(files, tmp_path, capsys):
    main(["label", "start", "work", "--pool", "pool.csv", "--id-column", "id"])
    path = tmp_path / "work" / STATE_FILE
    path.write_text(path.read_text()[:50])
    assert main(["label", "status", "work"]) == 2
    assert "not whole JSON" in capsys.readouterr().err


@pytest.mark.parametrize("arguments, match", [
    (["--id-column", "name"], "not in the table"),
    (["--id-column", "id", "--features", "petal,sepal"], "not in the table"),
    (["--id-column", "id", "--batch", "0"], "batch_size"),
])
def test_bad_start_options_exit_2(files, capsys, arguments, match):
    assert main(["label", "start", "work", "--pool", "pool.csv", *arguments]) == 2
    assert match in capsys.readouterr().err


def test_starting_twice_in_one_folder_is_refused(files, capsys):
    main(["label", "start", "work", "--pool", "pool.csv", "--id-column", "id"])
    assert main(["label", "start", "work", "--pool", "pool.csv", "--id-column", "id"]) == 2
    assert "already holds a loop" in capsys.readouterr().err


def test_a_batch_file_of_another_kind_is_refused(files, capsys):
    main(["label", "start", "work", "--pool", "pool.csv", "--id-column", "id"])
    assert main(["label", "next", "work", "--out", "batch.xlsx"]) == 2
    assert "must end in" in capsys.readouterr().err


def test_a_pool_file_with_repeated_ids_is_refused(files, tmp_path, capsys):
    pool = pd.read_csv("pool.csv")
    pool.loc[3, "id"] = pool.loc[2, "id"]
    pool.to_csv("pool.csv", index=False)
    assert main(["label", "start", "work", "--pool", "pool.csv", "--id-column", "id"]) == 2
    assert "ids must be unique; repeated: ['p002']" in capsys.readouterr().err
    assert not (tmp_path / "work" / STATE_FILE).exists()
