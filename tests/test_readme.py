"""The README opens with the two set-up commands, and CI runs the second one verbatim."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _setup_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", text, flags=re.S)
    assert block is not None and text.index(block.group(0)) < text.index("\n## ")
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_opens_with_exactly_two_commands():
    commands = _setup_commands()
    assert len(commands) == 2
    assert "modal-ibal run synthetic" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert _setup_commands()[1] in ci


def test_modal_is_installed_after_the_package():
    """Installed first, modAL's skorch==0.9.0 pin makes the package's install print a pip ERROR."""
    for command in _setup_commands():
        steps = [step.strip() for step in command.split("&&")]
        assert steps[0].startswith("pip install -e ")
        assert steps[1] == 'pip install --no-deps "modAL-python==0.4.2.1"'


def test_the_start_here_loop_runs_as_written(capsys):
    """The README's default_sampling loop, from zero labels on an unfitted skorch net."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Start here"):]
    block = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    exec(compile(block, "README.md", "exec"), {"__name__": "readme"})
    printed = capsys.readouterr().out
    labels, accuracy = re.fullmatch(r"(\d+) labels, accuracy (\d\.\d\d)\n", printed).groups()
    assert int(labels) == 100
    assert float(accuracy) > 0.5  # 100 covering labels on digits: far above chance (0.1)


def test_the_dask_example_runs_as_written_on_a_smaller_pool(tmp_path):
    """The README's default_sampling loop on a LocalCluster, run as a script (20,000 rows)."""
    pytest.importorskip("distributed")
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Pools that do not fit in memory"):]
    block = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    written = "(1_000_000, 64), chunks=(100_000, 64)"
    assert written in block
    script = tmp_path / "dask_example.py"
    script.write_text(block.replace(written, "(20_000, 64), chunks=(5_000, 64)"))  # > 10,000:
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,  # the
                         timeout=300, cwd=tmp_path, check=False)  # partitioned path
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.splitlines()[-1] == "60 labels"


def _labelling_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## Labelling for real")
    return text[start:text.index("\n## ", start + 1)]


def test_the_labelling_loop_example_runs_as_written(tmp_path, monkeypatch, capsys):
    """The ten-line loop: labels until the class-balanced predictions stabilise, saving each time."""
    block = re.findall(r"```python\n(.*?)```", _labelling_section(), flags=re.S)[1]
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "README.md", "exec"), {"__name__": "readme"})
    labels, counts = re.fullmatch(r"(\d+) labels: (\{.*\})\n", capsys.readouterr().out).groups()
    assert 20 <= int(labels) < 150 and len(eval(counts)) == 3  # every iris class found
    from sklearn.datasets import load_iris

    from modal_ibal.labelling import LabellingLoop

    pool = load_iris(as_frame=True).frame.drop(columns="target").rename_axis("id").reset_index()
    assert len(LabellingLoop.resume(tmp_path / "iris-labels", pool, id_column="id").labels) == \
        int(labels)


def test_the_command_line_walk_through_runs_as_written(tmp_path, monkeypatch, capsys):
    """The four commands, a person filling in the batch file between 'next' and 'teach'."""
    import shlex

    import pandas as pd
    from sklearn.datasets import load_iris
    from sklearn.model_selection import train_test_split

    from modal_ibal.experiments._cli import main

    block = re.search(r"```bash\n(.*?)```", _labelling_section(), flags=re.S).group(1)
    commands = [shlex.split(line) for line in block.splitlines() if line.strip()]
    assert [command[:3] for command in commands] == [["modal-ibal", "label", action] for action
                                                      in ("start", "next", "teach", "status")]
    data = load_iris(as_frame=True)
    frame = data.frame.rename(columns={"target": "species"})
    frame["species"] = data.target_names[frame["species"]]
    pool, valid = train_test_split(frame, test_size=0.3, random_state=0, stratify=frame["species"])
    pool = pool.reset_index(drop=True).rename_axis("id").reset_index()
    monkeypatch.chdir(tmp_path)
    pool.drop(columns="species").to_csv("pool.csv", index=False)
    valid.to_csv("valid.csv", index=False)
    for command in commands:
        assert main(command[1:]) == 0
        if command[2] == "next":  # the person
            batch = pd.read_csv("batch.csv")
            batch["label"] = pool.set_index("id").loc[batch["id"], "species"].to_numpy()
            batch.to_csv("batch.csv", index=False)
    out = capsys.readouterr().out
    assert "batch.csv: 10 labelled, 0 skipped" in out
    assert re.search(r"validation: accuracy 0\.\d+, balanced accuracy 0\.\d+ at 10 labels", out)
    assert (tmp_path / "work" / "learning_curve.png").stat().st_size > 1000
