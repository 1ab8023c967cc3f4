"""The modal-ibal command end to end, at a tiny size: files written, opened and checked."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from conftest import write_cifar100
from matplotlib.image import imread

from modal_ibal.experiments._cli import main
from modal_ibal.strategies import _registry as registry

STRATEGIES = ("random", "entropy", "ibal-d")
TINY = ["--rounds", "2", "--epochs", "5", "--pool-size", "300", "--test-size", "200",
        "--no-progress"]


def _run(out, *extra, strategies=STRATEGIES, seeds=2):
    argv = ["run", "synthetic", "--seeds", str(seeds), "--out", str(out),
            "--strategies", ",".join(strategies), *TINY, *extra]
    return main(argv)


def test_run_writes_csv_summary_and_figures(tmp_path, capsys):
    assert _run(tmp_path) == 0
    printed = capsys.readouterr().out
    assert "synthetic: 3 strategies x 2 seeds" in printed
    assert f"wrote {tmp_path}/summary.md" in printed

    results = pd.read_csv(tmp_path / "results.csv")
    assert list(results.columns) == ["experiment", "strategy", "seed", "round", "n_labelled",
                                     "metric", "value"]
    assert len(results) == 3 * 2 * 3 * 4  # strategies x seeds x budgets x metrics
    assert sorted(results["n_labelled"].unique()) == [10, 20, 30]
    assert set(results["metric"]) == {"accuracy", "balanced_accuracy", "macro_f1", "classes_found"}
    assert (results["experiment"] == "synthetic").all()
    assert results["value"].between(0, 1).all()

    summary = (tmp_path / "summary.md").read_text()
    for name in STRATEGIES:
        assert summary.count(f"| {name} |") == 5  # four metric tables and the timing table
    assert "--strategies random,entropy,ibal-d" in summary

    for name in ("dataset", "curves_accuracy", "curves_balanced_accuracy", "curves_macro_f1",
                 "curves_classes_found"):
        image = imread(tmp_path / f"{name}.png")
        assert image.shape[0] > 300 and image.shape[1] > 300
        assert image.std() > 0.01  # something was drawn


def test_resume_gives_the_same_csv_as_a_fresh_run(tmp_path):
    fresh, resumed = tmp_path / "fresh", tmp_path / "resumed"
    assert _run(fresh) == 0
    assert _run(resumed, strategies=STRATEGIES[:2], seeds=1) == 0
    assert _run(resumed, "--resume") == 0
    assert (fresh / "results.csv").read_bytes() == (resumed / "results.csv").read_bytes()


def test_list_shows_strategies_and_experiments(capsys):
    assert main(["list"]) == 0
    printed = capsys.readouterr().out
    for name in (*registry.strategy_names(), "synthetic", "digits", "fashion-mnist", "cifar100"):
        assert name in printed


def test_fig4_writes_plots_and_correlations(tmp_path, capsys):
    argv = ["fig4", "synthetic", "--out", str(tmp_path), "--epochs", "5", "--pool-size", "300",
            "--test-size", "200"]
    assert main(argv) == 0
    assert "spearman_rho" in capsys.readouterr().out
    correlations = pd.read_csv(tmp_path / "fig4_correlations.csv", index_col="measure")
    assert list(correlations.index) == ["entropy", "confidence"]
    assert np.all(np.abs(correlations["spearman_rho"]) <= 1)
    for name in ("fig4_entropy.png", "fig4_confidence.png"):
        assert imread(tmp_path / name).shape[0] > 300
    assert "Spearman" in (tmp_path / "fig4.md").read_text()


def test_cifar100_runs_from_a_data_dir(tmp_path):
    write_cifar100(tmp_path / "data", n_train=150, n_test=40, every_class=True)
    argv = ["run", "cifar100", "--data-dir", str(tmp_path / "data"), "--seeds", "1",
            "--rounds", "1", "--initial", "10", "--batch", "5", "--epochs", "1",
            "--strategies", "random,ibal-d", "--out", str(tmp_path / "out"), "--no-progress"]
    assert main(argv) == 0
    results = pd.read_csv(tmp_path / "out" / "results.csv")
    assert sorted(results["n_labelled"].unique()) == [10, 15]
    assert imread(tmp_path / "out" / "dataset.png").shape[0] > 300


def _broken_strategy(classifier, X_pool, n_instances=1, **kwargs):
    raise RuntimeError("deliberately broken")


def test_a_failing_strategy_exits_1_naming_it_and_keeps_finished_runs(tmp_path, capsys,
                                                                      monkeypatch):
    entry = registry.StrategyEntry("broken", _broken_strategy, "always raises")
    monkeypatch.setitem(registry.STRATEGIES, "broken", entry)
    assert _run(tmp_path, strategies=("random", "broken"), seeds=1) == 1
    error = capsys.readouterr().err
    assert "Strategy 'broken' failed at seed 0, round 1 (query)" in error
    assert "deliberately broken" in error and "--resume" in error
    assert (tmp_path / "runs" / "random__seed0.csv").is_file()


def _interrupting_strategy(classifier, X_pool, n_instances=1, **kwargs):
    raise KeyboardInterrupt


def test_an_interrupt_exits_130_and_resume_finishes_the_job(tmp_path, capsys, monkeypatch):
    entry = registry.StrategyEntry("ctrl-c", _interrupting_strategy, "Ctrl-C")
    monkeypatch.setitem(registry.STRATEGIES, "ctrl-c", entry)
    assert _run(tmp_path / "cut", strategies=("random", "ctrl-c"), seeds=1) == 130
    assert "--resume" in capsys.readouterr().err
    assert sorted(path.name for path in (tmp_path / "cut" / "runs").iterdir()) == [
        "random__seed0.csv"]
    assert _run(tmp_path / "cut", "--resume", strategies=("random", "entropy")) == 0
    assert _run(tmp_path / "whole", strategies=("random", "entropy")) == 0
    assert (tmp_path / "cut" / "results.csv").read_bytes() == \
        (tmp_path / "whole" / "results.csv").read_bytes()


@pytest.mark.parametrize("argv, message", [
    (["run", "synthetic", "--strategies", "random,nope"], "Got 'nope' instead"),
    (["run", "cifar100", "--seeds", "1"], "--data-dir"),
    (["run", "fashion-mnist", "--data-dir", "/nonexistent/fashion"], "dataset-fashion-mnist"),
    (["run", "synthetic", "--rounds", "400"], "pool holds"),
])
def test_bad_input_exits_2_with_a_message(tmp_path, capsys, argv, message):
    assert main([*argv, "--out", str(tmp_path), "--no-progress"]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["run", "mnist"],
    ["run", "synthetic", "--seeds", "0"],
    ["run", "synthetic", "--epochs", "-3"],
])
def test_argparse_rejects(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert "error" in capsys.readouterr().err


def test_summarize_pairs_with_any_reference(tmp_path, capsys):
    assert _run(tmp_path) == 0
    assert main(["summarize", str(tmp_path), "--reference", "entropy"]) == 0
    assert f"wrote {tmp_path}/summary.md" in capsys.readouterr().out
    summary = (tmp_path / "summary.md").read_text()
    assert "ΔAULC vs entropy (± s.e.)" in summary
    assert "modal-ibal summarize" in summary
    assert main(["summarize", str(tmp_path), "--reference", "badge"]) == 2
    assert "'--reference' option must name a strategy in the results" in capsys.readouterr().err
    assert _run(tmp_path / "other", "--reference", "badge") == 2
    assert main(["summarize", str(tmp_path / "missing")]) == 2


def test_resume_names_a_damaged_run_file_in_one_line_and_runs_it_again(tmp_path, capsys):
    assert _run(tmp_path / "whole", strategies=("random",), seeds=1) == 0
    assert _run(tmp_path / "cut", strategies=("random",), seeds=1) == 0
    damaged = tmp_path / "cut" / "runs" / "random__seed0.csv"
    damaged.write_bytes(damaged.read_bytes()[:-5])
    capsys.readouterr()
    assert _run(tmp_path / "cut", "--resume", strategies=("random",), seeds=1) == 0
    error = capsys.readouterr().err
    assert error == (f"modal-ibal: warning: The file '{damaged}' is damaged: it ends in the "
                     "middle of a line, so it was cut short. Running strategy 'random', seed 0 "
                     "again.\n")
    assert (tmp_path / "cut" / "results.csv").read_bytes() == \
        (tmp_path / "whole" / "results.csv").read_bytes()


def _unwritable(path):
    path.mkdir()
    path.chmod(0o500)
    return path


def _under_a_file(path):
    path.write_text("")
    return path / "sub"


def _a_file(path):
    path.write_text("")
    return path


@pytest.mark.parametrize("command", [["run", "synthetic"], ["fig4", "synthetic"]])
@pytest.mark.parametrize("make_out, message", [
    (_a_file, "which is a file."),
    (_under_a_file, "which cannot be created: Not a directory."),
    pytest.param(_unwritable, "where a new file cannot be written: Permission denied.",
                 marks=pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")),
])
def test_an_out_that_is_not_a_writable_folder_exits_2_with_one_line(tmp_path, capsys, command,
                                                                      make_out, message):
    out = make_out(tmp_path / "out")
    try:
        assert main([*command, "--out", str(out)]) == 2
    finally:
        (tmp_path / "out").chmod(0o700)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (f"modal-ibal: error: The '--out' option must be a folder that files "
                            f"can be written to. Got '{out}', {message}\n")


def test_an_out_refusing_new_files_exits_2_with_one_line(tmp_path, capsys, monkeypatch):
    import tempfile

    from modal_ibal.experiments import _files as files

    real_mkstemp = tempfile.mkstemp

    def refusing(*args, dir=None, **kwargs):  # what a folder without write permission does
        if dir is not None and str(dir).startswith(str(tmp_path)):
            raise PermissionError(13, "Permission denied")
        return real_mkstemp(*args, dir=dir, **kwargs)

    monkeypatch.setattr(files.tempfile, "mkstemp", refusing)
    assert main(["run", "synthetic", "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (
        f"modal-ibal: error: The '--out' option must be a folder that files can be written to. "
        f"Got '{tmp_path / 'out'}', where a new file cannot be written: Permission denied.\n")
