"""Resuming never trusts a damaged file: run files checked, outputs written atomically."""

from __future__ import annotations

import os
import re
import shutil
import stat

import pytest
from conftest import TINY

from modal_ibal import ibal_sampling, random_sampling
from modal_ibal.experiments._assembly import assemble
from modal_ibal.experiments._cli import main
from modal_ibal.experiments._files import (
    SCORE_METRICS,
    DamagedFileError,
    DamagedRunWarning,
    open_atomic,
    read_protocol,
    read_rows,
    read_run,
    run_file,
    write_atomic,
)
from modal_ibal.experiments._runner import RunFailedError, run_experiment

STRATEGIES = {"random": random_sampling, "ibal": ibal_sampling}
KEYS = [("random", 0), ("ibal", 0)]
DAMAGED = run_file("", "random", 0)  # the run every case damages, relative to the output folder


def _run(out, spec=TINY, strategies=STRATEGIES, **kwargs):
    return run_experiment(spec, strategies, 1, out, progress=False, **kwargs)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """An uninterrupted run of the tiny experiment, and one of the same with 3 rounds."""
    root = tmp_path_factory.mktemp("finished")
    _run(root / "full")
    _run(root / "longer", TINY.with_overrides(rounds=3))
    return root


def _copy(finished, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(finished / "full", out)
    return out


def _lines(path):
    return path.read_text().splitlines(keepends=True)


# Each case turns the good run file (with the folder's other files at hand) into a damaged one.
CASES = {
    "cut at a line boundary": (
        lambda path, out, finished: path.write_text("".join(_lines(path)[:-4])),
        r"lacks 4 of the 17 rows its runs need, the first being strategy 'random', seed 0, "
        r"round 2, accuracy"),
    "header only": (
        lambda path, out, finished: path.write_text(_lines(path)[0]),
        "holds the header and no rows"),
    "cut mid-line": (
        lambda path, out, finished: path.write_bytes(path.read_bytes()[:-9]),
        "ends in the middle of a line"),
    "empty": (
        lambda path, out, finished: path.write_bytes(b""),
        "is empty"),
    "another strategy's run": (
        lambda path, out, finished: shutil.copy(run_file(out, "ibal", 0), path),
        "line 2 belongs to another run, not strategy 'random', seed 0"),
    "another protocol's run": (
        lambda path, out, finished: shutil.copy(run_file(finished / "longer", "random", 0), path),
        r"line \d+ holds a round after the protocol's last"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_resume_reruns_a_damaged_run_file_to_the_uninterrupted_results(finished, tmp_path, case):
    damage, reason = CASES[case]
    out = _copy(finished, tmp_path)
    (out / "results.csv").unlink()
    damage(out / DAMAGED, out, finished)
    with pytest.warns(DamagedRunWarning) as caught:
        result = _run(out, resume=True)
    damaged = [warning for warning in caught if warning.category is DamagedRunWarning]
    assert len(damaged) == 1
    message = str(damaged[0].message)
    assert message.startswith(f"The file '{out / DAMAGED}' is damaged: ")
    assert message.endswith("Running strategy 'random', seed 0 again.")
    assert re.search(reason, message), message
    assert result.n_resumed == 1
    assert (out / "results.csv").read_bytes() == (finished / "full" / "results.csv").read_bytes()
    read_run(out / DAMAGED, TINY.protocol(), "random", 0)


def test_resume_keeps_complete_runs_without_a_warning(finished, tmp_path, recwarn):
    out = _copy(finished, tmp_path)
    assert _run(out, resume=True).n_resumed == 2
    assert not [w for w in recwarn if issubclass(w.category, DamagedRunWarning)]


def test_assemble_refuses_a_damaged_run_file_and_keeps_the_earlier_results(finished, tmp_path):
    out = _copy(finished, tmp_path)
    before = {name: (out / name).read_bytes() for name in ("results.csv", "timings.csv")}
    (out / DAMAGED).write_bytes((out / DAMAGED).read_bytes()[:-9])
    with pytest.raises(DamagedFileError, match="ends in the middle of a line") as caught:
        assemble(out, KEYS)
    assert caught.value.path == out / DAMAGED
    assert {name: (out / name).read_bytes() for name in before} == before
    assert not list(out.glob(".*.tmp"))


def test_assemble_reads_the_protocol_from_the_folder_or_needs_one(finished, tmp_path):
    out = _copy(finished, tmp_path)
    results, timings = assemble(out, KEYS)
    assert len(results) == 2 * 3 * len(SCORE_METRICS) and len(timings) == 2 * (3 + 2)
    assert (out / "results.csv").read_bytes() == (finished / "full" / "results.csv").read_bytes()
    (out / "protocol.json").unlink()
    with pytest.raises(ValueError, match=r"must be a folder of runs with its protocol.json"):
        assemble(out, KEYS)


def _broken(classifier, X_pool, n_instances=1, **kwargs):
    raise RuntimeError("broken on purpose")


def test_a_failing_resume_leaves_the_earlier_results(finished, tmp_path):
    out = _copy(finished, tmp_path)
    before = (out / "results.csv").read_bytes()
    with pytest.raises(RunFailedError, match="Strategy 'broken' failed"):
        _run(out, strategies={**STRATEGIES, "broken": _broken}, resume=True)
    assert (out / "results.csv").read_bytes() == before


def test_a_damaged_protocol_file_is_refused_by_name(finished, tmp_path):
    out = _copy(finished, tmp_path)
    (out / "protocol.json").write_text('{"experiment": "tiny", "n_in')
    with pytest.raises(DamagedFileError, match=r"protocol.json' is damaged: it is not JSON"):
        _run(out, resume=True)
    (out / "protocol.json").write_text('{"experiment": "tiny"}')
    with pytest.raises(DamagedFileError, match=r"lacks the experiment name or an integer"):
        read_protocol(out)


def test_run_experiment_refuses_an_out_that_is_a_file(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match=r"The 'out' parameter must be a folder that files can "
                       r"be written to. Got '.*file', which is a file."):
        _run(tmp_path / "file")


# ------------------------------------------------------------------ read_rows


HEADER = "experiment,strategy,seed,round,n_labelled,metric,value\n"
PROTOCOL = {"experiment": "e", "n_initial": 10, "batch_size": 5, "n_rounds": 1}
METRICS = ("accuracy", "balanced_accuracy", "macro_f1")  # the tables below: three per round


def _rows(*rounds, strategy="s", seed=0):
    return "".join(f"e,{strategy},{seed},{r},{10 + 5 * r},{metric},0.5\n"
                   for r in rounds for metric in METRICS)


GOOD = HEADER + _rows(0, 1) + _rows(0, 1, strategy="t")


@pytest.mark.parametrize("text, protocol, reason", [
    (HEADER.replace("value", "score") + _rows(0, 1), PROTOCOL,
     "its header is 'experiment,strategy,seed,round,n_labelled,metric,score', not"),
    ("\n", None, "its header is ''"),
    (HEADER + _rows(0).replace("0.5\n", "0.5,1\n", 1), None,
     "it does not parse as CSV .*Expected 7 fields in line 2, saw 8"),
    (HEADER.replace("value", "value,extra") + _rows(0), None, "its lines have more than 7 fields"),
    (HEADER + "e,s,0\n", None, "line 2 has empty or missing fields"),
    (HEADER + _rows(0) + "\n" + _rows(1), None, "line 5 has empty or missing fields"),
    (HEADER + _rows(0).replace(",0,0,", ",-1,0,", 1), None,
     "its 'seed' on line 2 is not a non-negative integer"),
    (HEADER + _rows(0).replace("0.5", "nan", 1), None, "the value on line 2 is not a finite number"),
    (HEADER + _rows(0).replace("0.5", "1.5", 1), None, r"the score on line 2 is outside \[0, 1\]"),
    (HEADER + _rows(0).replace("macro_f1", "f1"), None,
     "the metric on line 4 is not one of accuracy, balanced_accuracy, macro_f1"),
    (HEADER + _rows(0, 1).replace("e,", "x,"), PROTOCOL,
     "line 2 belongs to another experiment, not 'e'"),
    (HEADER + _rows(0, 1).replace(",15,", ",14,"), PROTOCOL,
     r"the label count on line 5 is not the protocol's 10 \+ round x 5"),
    (HEADER + _rows(0, 1) + _rows(1, strategy="t").replace(",15,", ",16,"), None,
     "the label count on line 5 differs from other rows of its round"),
    (HEADER + _rows(0, 1).replace(",15,", ",10,"), None,
     "its label counts do not grow from round to round"),
    (HEADER + _rows(0, 1) + _rows(1), None, "line 8 repeats an earlier row"),
    (HEADER + _rows(0, 1, 2), PROTOCOL, "line 8 holds a round after the protocol's last"),
    (GOOD + _rows(0, 1, seed=1), None,
     "it lacks 6 of the 24 rows its runs need, the first being strategy 't', seed 1, round 0, "
     "accuracy"),
])
def test_read_rows_names_the_first_thing_wrong(tmp_path, text, protocol, reason):
    path = tmp_path / "results.csv"
    path.write_text(text)
    with pytest.raises(DamagedFileError, match=f"The file '.*results.csv' is damaged: {reason}"):
        read_rows(path, METRICS, protocol)


def test_read_rows_keeps_a_complete_table_as_written(tmp_path):
    path = tmp_path / "results.csv"
    path.write_text(GOOD.replace("0.5", "0.123456789012345678", 1))
    for protocol in (None, PROTOCOL):
        rows = read_rows(path, METRICS, protocol)
        assert rows.shape == (12, 7) and rows["seed"].dtype == "int64"
        assert rows.to_csv(index=False, lineterminator="\n") == path.read_text()


# ------------------------------------------------------------------ atomic writes


def test_open_atomic_leaves_the_old_file_when_writing_fails(tmp_path):
    path = write_atomic(tmp_path / "results.csv", "old\n")
    with pytest.raises(RuntimeError, match="disk gone"), open_atomic(path) as stream:
        stream.write("half of the new")
        raise RuntimeError("disk gone")
    assert path.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["results.csv"]


def test_write_atomic_writes_text_and_bytes_with_the_usual_permissions(tmp_path):
    plain = tmp_path / "plain"
    plain.write_text("")
    assert write_atomic(tmp_path / "a" / "b.md", "é\n").read_text(encoding="utf-8") == "é\n"
    assert write_atomic(tmp_path / "c.png", b"\x89PNG").read_bytes() == b"\x89PNG"
    assert stat.S_IMODE((tmp_path / "c.png").stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)
    with pytest.raises(TypeError, match=r"must be str or bytes\. Got list instead"):
        write_atomic(tmp_path / "d", ["x"])
    with pytest.raises(ValueError, match=r"must be 'w' or 'wb'\. Got 'a' instead"), \
            open_atomic(tmp_path / "e", "a"):
        pass


# ------------------------------------------------------------------ summarize


SUMMARIZE_CASES = {
    "results.csv cut mid-line": ("results.csv", lambda text: text[:-7],
                                 "ends in the middle of a line"),
    "results.csv cut at a line boundary": ("results.csv", lambda text: "".join(
        text.splitlines(keepends=True)[:-2]), "lacks 2 of the 24 rows its runs need"),
    "results.csv header only": ("results.csv", lambda text: text.splitlines(keepends=True)[0],
                                "holds the header and no rows"),
    "timings.csv cut mid-line": ("timings.csv", lambda text: text[:-3],
                                 "ends in the middle of a line"),
}


@pytest.mark.parametrize("case", list(SUMMARIZE_CASES))
def test_summarize_on_a_damaged_csv_exits_2_with_one_line(finished, tmp_path, capsys, case):
    name, damage, reason = SUMMARIZE_CASES[case]
    out = _copy(finished, tmp_path)
    (out / name).write_text(damage((out / name).read_text()))
    assert main(["summarize", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert captured.err.startswith(f"modal-ibal: error: The file '{out / name}' is damaged: ")
    assert reason in captured.err
    assert "run the same 'modal-ibal run' command with --resume" in captured.err
    assert not (out / "summary.md").exists()


def test_summarize_reads_a_complete_folder(finished, tmp_path, capsys):
    out = _copy(finished, tmp_path)
    assert main(["summarize", str(out), "--reference", "ibal"]) == 0
    assert f"wrote {out / 'summary.md'}" in capsys.readouterr().out
    assert "ΔAULC vs ibal" in (out / "summary.md").read_text()


def test_summarize_with_a_damaged_protocol_exits_2_saying_what_to_do(finished, tmp_path, capsys):
    out = _copy(finished, tmp_path)
    (out / "protocol.json").write_text("")
    assert main(["summarize", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert error.startswith(f"modal-ibal: error: The file '{out / 'protocol.json'}' is damaged: "
                            "it is not JSON (Expecting value: line 1 column 1 (char 0)). It "
                            "records the settings of the runs next to it: delete it")
