"""Ctrl-C stops a run wherever it lands, inside a skorch fit or a modAL query included.

skorch's ``fit`` swallows ``KeyboardInterrupt`` and modAL's ``query`` calls the
strategy again after one; each test sends this process (or the command) a real
SIGINT there and checks that the run stops, keeps only complete run files, and
resumes to the uninterrupted ``results.csv``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import TINY

from modal_ibal import ibal_sampling, random_sampling
from modal_ibal.experiments._classifier import SeededNeuralNetClassifier
from modal_ibal.experiments._cli import main
from modal_ibal.experiments._files import read_protocol, read_run, run_file
from modal_ibal.experiments._runner import run_experiment

STRATEGIES = {"random": random_sampling, "ibal": ibal_sampling}


@pytest.fixture(autouse=True)
def ctrl_c_reaches_python():
    """Ctrl-C as at a terminal, also when the suite was started in the background.

    A shell starts a background job (``command &``) with SIGINT ignored, Python then
    installs no KeyboardInterrupt handler, and the runner rightly leaves an ignored
    SIGINT ignored: these tests would see no interrupt at all.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _default_sigint() -> None:
    """In the command's process: SIGINT back to its default, whatever this process ignores."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _run(out, strategies=STRATEGIES, **kwargs):
    return run_experiment(TINY, strategies, 1, out, progress=False, **kwargs)


def _sigint_at_epoch(monkeypatch, epoch):
    """Send this process a SIGINT at the end of the ``epoch``-th training epoch from now on."""
    epochs = []

    def on_epoch_end(net, *args, **kwargs):
        epochs.append(net)
        if len(epochs) == epoch:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(SeededNeuralNetClassifier, "on_epoch_end", on_epoch_end)


def _assert_only_complete_runs(out, expected):
    """``out`` holds the complete run files ``expected`` (strategy, seed) and nothing half-written."""
    assert sorted(path.name for path in (out / "runs").iterdir()) == sorted(
        run_file(out, *key).name for key in expected)
    for key in expected:
        read_run(run_file(out, *key), read_protocol(out), *key)
    assert not list(out.rglob("*.tmp"))
    assert not (out / "results.csv").exists()


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """``results.csv`` of the tiny experiment run without an interrupt."""
    out = tmp_path_factory.mktemp("uninterrupted")
    _run(out)
    return (out / "results.csv").read_bytes()


def test_an_interrupt_swallowed_by_a_skorch_fit_stops_the_run(tmp_path, monkeypatch,
                                                               uninterrupted):
    handler = signal.getsignal(signal.SIGINT)
    per_run = TINY.epochs * (TINY.n_rounds + 1)
    _sigint_at_epoch(monkeypatch, per_run + TINY.epochs + 2)  # 2nd run, first teach
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path)
    assert signal.getsignal(signal.SIGINT) is handler
    _assert_only_complete_runs(tmp_path, [("random", 0)])
    monkeypatch.undo()
    assert _run(tmp_path, resume=True).n_resumed == 1
    assert (tmp_path / "results.csv").read_bytes() == uninterrupted


def test_an_interrupt_inside_a_query_stops_the_run_without_querying_again(tmp_path,
                                                                          uninterrupted):
    calls = []

    def interrupted_ibal(learner, X_pool, n_instances=1, **kwargs):
        calls.append(n_instances)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGINT)
        return ibal_sampling(learner, X_pool, n_instances=n_instances, **kwargs)

    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, {"random": random_sampling, "ibal": interrupted_ibal})
    assert len(calls) == 1
    _assert_only_complete_runs(tmp_path, [("random", 0)])
    assert _run(tmp_path, resume=True).n_resumed == 1
    assert (tmp_path / "results.csv").read_bytes() == uninterrupted


def test_the_command_exits_130_when_a_fit_swallows_the_interrupt(tmp_path, monkeypatch, capsys):
    _sigint_at_epoch(monkeypatch, 5 + 2)  # the first run's first teach
    argv = ["run", "synthetic", "--seeds", "1", "--strategies", "random", "--rounds", "1",
            "--epochs", "5", "--pool-size", "100", "--test-size", "50", "--no-progress",
            "--out", str(tmp_path)]
    assert main(argv) == 130
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (f"modal-ibal: interrupted. Finished runs are in {tmp_path}/runs; run "
                            "the same command with --resume to continue.\n")
    assert not list((tmp_path / "runs").iterdir())


# the real command, small enough that one run takes about a second, nearly all of it in fits
COMMAND = ["run", "synthetic", "--seeds", "1", "--strategies", "random,entropy", "--rounds", "1",
           "--epochs", "400", "--pool-size", "100", "--test-size", "50", "--threads", "1",
           "--no-progress"]


def _interrupt_once_written(command, path):
    """Send ``command`` a SIGINT once ``path`` exists; return its (stdout, stderr)."""
    try:
        deadline = time.monotonic() + 60
        while not path.exists() and command.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)  # into the next run's first fit
        command.send_signal(signal.SIGINT)
        return command.communicate(timeout=60)
    finally:
        if command.poll() is None:
            command.kill()
            command.wait()


def test_ctrl_c_stops_the_command_and_resume_gives_the_uninterrupted_csv(tmp_path):
    cut, whole = tmp_path / "cut", tmp_path / "whole"
    command = subprocess.Popen(
        [sys.executable, "-m", "modal_ibal.experiments._cli", *COMMAND, "--out", str(cut)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=_default_sigint)
    out, err = _interrupt_once_written(command, run_file(cut, "random", 0))
    assert command.returncode == 130, err
    assert out == "" and err.endswith("run the same command with --resume to continue.\n")
    _assert_only_complete_runs(cut, [("random", 0)])
    assert main([*COMMAND, "--out", str(cut), "--resume"]) == 0
    assert main([*COMMAND, "--out", str(whole)]) == 0
    assert (cut / "results.csv").read_bytes() == (whole / "results.csv").read_bytes()


def test_an_interrupt_swallowed_by_the_fig4_fit_stops_it(monkeypatch):
    from modal_ibal.experiments._fig4 import ibal_vs_uncertainty

    handler = signal.getsignal(signal.SIGINT)
    _sigint_at_epoch(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        ibal_vs_uncertainty(TINY, 0)
    assert signal.getsignal(signal.SIGINT) is handler
