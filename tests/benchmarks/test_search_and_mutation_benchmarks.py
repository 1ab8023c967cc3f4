"""The neighbour-search comparison and the mutation-score report, on tiny inputs."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest

from benchmarks import mutation_score, neighbour_search


def test_neighbour_search_rows_hold_time_recall_and_what_auto_did(monkeypatch):
    monkeypatch.setitem(neighbour_search.SETS, "tiny",
                        lambda n, d: np.random.default_rng(0).standard_normal((n, d)))
    methods = ["exact", "partitioned", "auto"]
    if pytest.importorskip is not None and __import__("importlib").util.find_spec("faiss"):
        methods.append("faiss-flat")
    rows = neighbour_search.measure("tiny", 600, 8, 10, 100, methods)
    assert [row["method"] for row in rows] == methods
    by_method = {row["method"]: row for row in rows}
    assert by_method["exact"]["recall"] == 1.0 and by_method["auto"]["recall"] == 1.0
    assert by_method["auto"]["note"] == "brute"  # 600 points: searched exactly
    assert 0.0 < by_method["partitioned"]["recall"] <= 1.0
    assert all(row["seconds"] > 0 and row["n_points"] == 600 for row in rows)
    table = neighbour_search.table(rows)
    assert "| tiny | 600 | 8 |" in table and "tiny 600 x 8: brute" in table


def test_the_sets_are_unit_rows_of_the_asked_shape():
    for name in ("structureless", "clustered"):
        Z = neighbour_search.SETS[name](500, 16)
        assert Z.shape == (500, 16) and Z.dtype == np.float32


ORIGINAL = '''
def x_f__mutmut_orig(a, b):
    if a < b:
        raise ValueError(f"a is {a}")
    return a + b * 2 + values[1] + lookup("key")
'''

MUTANTS = {
    "x_f__mutmut_1": ("a <= b", "comparison", 1),
    "x_f__mutmut_2": ("a - b * 2", "arithmetic", 0),
    "x_f__mutmut_3": ("b * 3", "constant", 1),
    "x_f__mutmut_4": ("values[2]", "index", 0),
    "x_f__mutmut_5": ('lookup("XXkeyXX")', "string", 1),
    "x_f__mutmut_6": ('f"XXa is {a}XX"', "message", 0),
    "x_f__mutmut_7": ("lookup(None)", "value", 36),
}


def _mutant_source(name, change):
    body = ORIGINAL.replace("x_f__mutmut_orig", name)
    replaced = {"a <= b": ("a < b", "a <= b"), "a - b * 2": ("a + b * 2", "a - b * 2"),
                "b * 3": ("b * 2", "b * 3"), "values[2]": ("values[1]", "values[2]"),
                'lookup("XXkeyXX")': ('lookup("key")', 'lookup("XXkeyXX")'),
                'f"XXa is {a}XX"': ('f"a is {a}"', 'f"XXa is {a}XX"'),
                "lookup(None)": ('lookup("key")', "lookup(None)")}[change]
    return body.replace(*replaced)


def _mutated_module(root, package):
    """``package.sub.mod`` under ``root``: the original function, its mutants and their results."""
    folder = root / package / "sub"
    folder.mkdir(parents=True)
    source = ORIGINAL + "".join(_mutant_source(name, change) for name, (change, _, _) in
                                MUTANTS.items())
    (folder / "mod.py").write_text(textwrap.dedent(source))
    (folder / "mod.py.meta").write_text(json.dumps({"exit_code_by_key": {
        f"{package}.sub.mod.{name}": code for name, (_, _, code) in MUTANTS.items()}}))


def test_mutants_are_classified_and_scored_without_messages(tmp_path):
    _mutated_module(tmp_path, "pkg")
    rows = mutation_score.classify(tmp_path)
    assert {row["mutant"].rpartition(".")[2]: row["kind"] for row in rows} == {
        name: kind for name, (_, kind, _) in MUTANTS.items()}
    assert {row["mutant"].rpartition(".")[2]: row["status"] for row in rows} == {
        name: "killed" if code in (1, 36) else "survived"
        for name, (_, _, code) in MUTANTS.items()}
    table = mutation_score.score_table(rows)
    assert "| pkg.sub |" in table and "66.7% (4/6)" in table  # the message left out
    listed = mutation_score.survivors(rows)
    assert "2 arithmetic" in listed and "4 index" in listed and "message" not in listed


def test_a_search_measured_again_replaces_its_earlier_row(tmp_path):
    rows = [{"set": "s", "n_points": 10, "n_dims": 2, "method": "auto", "seconds": 1.0,
             "recall": 0.5, "note": "old"},
            {"set": "s", "n_points": 10, "n_dims": 2, "method": "exact", "seconds": 2.0,
             "recall": 1.0, "note": ""},
            {"set": "s", "n_points": 10, "n_dims": 2, "method": "auto", "seconds": 3.0,
             "recall": 1.0, "note": "new"}]
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    latest = neighbour_search.latest_rows(tmp_path / "rows.jsonl")
    assert sorted((row["method"], row["note"]) for row in latest) == [("auto", "new"),
                                                                     ("exact", "")]
    neighbour_search.main(["--report-only", "--out", str(tmp_path)])
    assert "3.00 s, 1.000" in (tmp_path / "table.md").read_text()


def test_listed_equivalents_are_counted_apart_from_the_survivors(tmp_path):
    _mutated_module(tmp_path, "modal_ibal")
    text = ("# Equivalent\n\n- modal_ibal.sub.mod.f 2, 4: why.\n"
            "- sub.mod.f 3: killed, an outdated line.\n- sub.mod.f 99: no such mutant.\n"
            "- a sentence that names no mutant.\n")
    listed = mutation_score.listed_equivalents(text, tmp_path)
    assert listed == {f"modal_ibal.sub.mod.x_f__mutmut_{n}" for n in (2, 3, 4, 99)}
    rows = mutation_score.classify(tmp_path)
    found = mutation_score.mark_equivalents(rows, listed)
    assert dict(found) == {"equivalent": 2, "killed": 1, "unknown": 1}
    table = mutation_score.target_table(rows)
    # target kinds: comparison (killed), arithmetic and index (equivalent), constant (killed)
    assert "| modal_ibal.sub | 2 | 0 | 2 | 50.0% | 100.0% |" in table
    assert "arithmetic" not in mutation_score.survivors(rows)
    with pytest.raises(ValueError, match=r"'modal_ibal\.sub\.missing\.f' names no function"):
        mutation_score.listed_equivalents("- sub.missing.f 1: why\n", tmp_path)
