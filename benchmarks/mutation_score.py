r"""Mutation score of the tests, by kind of mutant, from a finished ``mutmut run``.

::

    mutmut run                       # setup.cfg [mutmut]: coverage, scoring, search, strategies
    python -m benchmarks.mutation_score [--mutants mutants] [--survivors survivors.md] \
        [--equivalents benchmarks/mutation_equivalents.md]

mutmut (3.x) writes every mutant as a copy of its function under ``mutants/`` and
each result in the ``.meta`` file beside it. This script compares each mutant's
function with the original (their syntax trees), names what was changed, and
counts the mutants killed per package and kind:

``arithmetic``, ``comparison``, ``logic``
    An operator swapped: ``+`` for ``-``, ``<`` for ``<=``, ``and`` for ``or``,
    ``not`` dropped.
``constant``
    A number or a boolean changed.
``index``
    A subscript changed.
``value``
    A name, call or argument replaced by ``None``, an argument dropped, a keyword
    renamed, an assignment emptied, a method swapped.
``string``
    A string the code compares, stores or passes on (``'auto'``, a dict key).
``message``
    Text of an error, a warning or a comment-like f-string: only a person reads
    it. Left out of the score, as said in its line.

A mutant counts as killed when a test failed or timed out, as survived when
every test passed or no test ran it. The score is the killed share of all
mutants but the ``message`` ones.

With ``--equivalents``, the survivors listed in that file as equivalent (one
line each: ``- module.function N[, M]: why``) are counted apart, and a second
table gives the score of the target kinds (arithmetic, comparison, constant,
index) with and without them. The listed mutants that were killed, not checked,
or are no longer mutants (a changed function is numbered anew) are counted too.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

KILLED = {1, 3, 36, 24, -24, 152, 255}  # a failed test, pytest's internal error, a timeout
KINDS = ("arithmetic", "comparison", "logic", "constant", "index", "value", "string", "message",
         "other")
TARGET_KINDS = ("arithmetic", "comparison", "constant", "index")
_EQUIVALENT_LINE = re.compile(r"^- (?:modal_ibal\.)?([\w.]+) (\d+(?:, *\d+)*):", re.MULTILINE)
_MESSAGE_CALLS = {"warn", "ValueError", "TypeError", "RuntimeError", "KeyError", "IndexError",
                  "NotImplementedError", "FileNotFoundError", "TimeoutError", "print"}


def _difference(a, b, parents: tuple) -> tuple | None:
    """The first place where two syntax trees differ: (original node, mutant node, parents).

    ``parents`` are the (original, mutant) pairs of nodes above it, outermost first.
    A node whose own value differs (a constant, a keyword's name) is returned whole.
    """
    if type(a) is not type(b):
        return a, b, parents
    if isinstance(a, list):
        if len(a) != len(b):
            return a, b, parents
        for x, y in zip(a, b, strict=True):
            found = _difference(x, y, parents)
            if found:
                return found
        return None
    if not isinstance(a, ast.AST):
        return None if a == b else (a, b, parents)
    for field in a._fields:
        x, y = getattr(a, field, None), getattr(b, field, None)
        if not isinstance(x, (ast.AST, list)) and not isinstance(y, (ast.AST, list)):
            if x != y or type(x) is not type(y):
                return a, b, parents
            continue
        found = _difference(x, y, (*parents, (a, b)))
        if found:
            return found
    return None


def _call_name(node: ast.Call) -> str:
    return node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")


def _is_message(a, b, parents: tuple) -> bool:
    """Whether the change is to the text of an error or a warning (its first argument)."""
    chain = [*parents, (a, b)]
    for depth, (node, other) in enumerate(chain):
        if isinstance(node, ast.Call) and _call_name(node) in _MESSAGE_CALLS and node.args:
            below = [pair[0] for pair in chain[depth + 1:]]
            if node.args[0] in below:
                return True
            if below and below[0] is node.args and (
                    not other.args or ast.dump(other.args[0]) != ast.dump(node.args[0])):
                return True
    return False


def _changed(original: ast.AST, mutant: ast.AST) -> tuple | None:
    return _difference([original.args, original.body], [mutant.args, mutant.body], ())


def change(original: ast.AST, mutant: ast.AST) -> str:
    """The statement a mutant changed, before and after, one line each (shortened)."""
    found = _changed(original, mutant)
    if found is None:
        return ""
    statements = [pair for pair in found[2] if isinstance(pair[0], ast.stmt)]
    if not statements:
        return ""
    before, after = (ast.unparse(node).splitlines()[0][:90] for node in statements[-1])
    return f"{before}  ->  {after}"


def kind(original: ast.AST, mutant: ast.AST) -> str:
    """What a mutant changed in a function: one of :data:`KINDS`."""
    found = _changed(original, mutant)
    if found is None:
        return "other"
    a, b, parents = found
    if _is_message(a, b, parents):
        return "message"
    if all(isinstance(x, ast.Constant) and isinstance(x.value, str) for x in (a, b)) or (
            isinstance(a, ast.JoinedStr) and isinstance(b, ast.JoinedStr)):
        return "string"
    if isinstance(a, ast.cmpop):
        return "comparison"
    if isinstance(a, (ast.boolop, ast.Not)) or (
            isinstance(a, ast.UnaryOp) and isinstance(a.op, ast.Not)):
        return "logic"
    if isinstance(a, (ast.operator, ast.unaryop, ast.UnaryOp)):
        return "arithmetic"
    chain = [pair[0] for pair in parents] + [a]
    in_slice = any(isinstance(node, ast.Subscript) and chain[i + 1] is node.slice
                   for i, node in enumerate(chain[:-1]))
    if in_slice and not (isinstance(b, ast.Constant) and b.value is None):
        return "index"
    if isinstance(a, ast.Constant) and isinstance(a.value, (int, float, complex)) and (
            isinstance(b, ast.Constant) and b.value is not None):
        return "constant"
    return "value"


def _functions(path: Path) -> dict[str, ast.AST]:
    """Every function and method in a mutated file, by mutmut's name for it."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    functions = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            functions[node.name] = node
    return functions


def classify(mutants: Path) -> list[dict]:
    """One row per mutant: its module, function, kind and whether it was killed."""
    rows = []
    for meta in sorted(mutants.rglob("*.py.meta")):
        results = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        functions = _functions(meta.with_suffix(""))
        for name, exit_code in results.items():
            module, _, function = name.rpartition(".")
            stem = function.rpartition("__mutmut_")[0]
            mutant, original = functions.get(function), functions.get(f"{stem}__mutmut_orig")
            known = mutant is not None and original is not None
            rows.append({"module": module, "mutant": name,
                         "kind": kind(original, mutant) if known else "other",
                         "status": ("not checked" if exit_code is None else
                                    "killed" if exit_code in KILLED else
                                    "no tests" if exit_code in (5, 33) else "survived"),
                         "line": change(original, mutant) if known else ""})
    return rows


def _package(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 else module


def score_table(rows: list[dict]) -> str:
    """Markdown: killed / mutants per package and kind, and the score without messages."""
    checked = [row for row in rows if row["status"] != "not checked"]
    packages = sorted({_package(row["module"]) for row in checked})
    lines = ["| package | " + " | ".join(KINDS) + " | score (no messages) |",
             "|---|" + "---|" * (len(KINDS) + 1)]
    for package in [*packages, "all"]:
        mine = [row for row in checked if package == "all" or _package(row["module"]) == package]
        cells = []
        for name in KINDS:
            of_kind = [row for row in mine if row["kind"] == name]
            killed = sum(row["status"] == "killed" for row in of_kind)
            cells.append(f"{killed}/{len(of_kind)}" if of_kind else "")
        counted = [row for row in mine if row["kind"] != "message"]
        killed = sum(row["status"] == "killed" for row in counted)
        score = f"{killed / len(counted):.1%} ({killed}/{len(counted)})" if counted else ""
        lines.append(f"| {package} | " + " | ".join(cells) + f" | {score} |")
    statuses = Counter(row["status"] for row in rows)
    lines += ["", "Mutants by result: " + ", ".join(f"{n} {s}" for s, n in sorted(
        statuses.items())) + "."]
    return "\n".join(lines) + "\n"


def survivors(rows: list[dict]) -> str:
    """Markdown list of the mutants no test killed (messages left out), by function."""
    by_function = defaultdict(list)
    for row in rows:
        if row["status"] in ("survived", "no tests") and row["kind"] != "message":
            by_function[row["mutant"].rpartition("__mutmut_")[0]].append(row)
    lines = []
    for function, mine in sorted(by_function.items()):
        lines.append(f"- `{function}`:")
        lines += [f"  - {row['mutant'].rpartition('__mutmut_')[2]} {row['kind']}"
                  f"{' (no test ran it)' if row['status'] == 'no tests' else ''}: "
                  f"`{row['line']}`" for row in mine]
    return "\n".join(lines) + "\n"


def _mutmut_name(dotted: str, mutants: Path) -> str:
    """mutmut's name of a function or method written ``package.module.[Class.]function``."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        if (mutants.joinpath(*parts[:cut]).with_suffix(".py")).exists():
            module, inside = ".".join(parts[:cut]), parts[cut:]
            function = (f"x_{inside[0]}" if len(inside) == 1 else
                        "x\u01c1" + "\u01c1".join(inside) if len(inside) == 2 else None)
            if function is not None:
                return f"{module}.{function}"
    raise ValueError(f"{dotted!r} names no function of a mutated module under {mutants}.")


def listed_equivalents(text: str, mutants: Path) -> set[str]:
    """The mutants named in an equivalents file, by mutmut's key (``...__mutmut_N``)."""
    keys = set()
    for dotted, numbers in _EQUIVALENT_LINE.findall(text):
        function = _mutmut_name(f"modal_ibal.{dotted}", mutants)
        keys.update(f"{function}__mutmut_{n.strip()}" for n in numbers.split(","))
    return keys


def mark_equivalents(rows: list[dict], listed: set[str]) -> Counter:
    """Set the status of the listed survivors to ``'equivalent'``.

    Returns the listed mutants counted by what they are now: ``'equivalent'``,
    ``'killed'`` (a wrong or outdated entry), ``'not checked'`` and ``'unknown'``
    (no such mutant: its function changed).
    """
    found = Counter()
    for row in rows:
        if row["mutant"] in listed:
            if row["status"] in ("survived", "no tests"):
                row["status"] = "equivalent"
            found[row["status"]] += 1
    found["unknown"] = len(listed) - sum(found.values())
    return found


def target_table(rows: list[dict]) -> str:
    """Markdown: the target kinds killed per package, with and without listed equivalents."""
    checked = [row for row in rows if row["status"] != "not checked"
               and row["kind"] in TARGET_KINDS]
    lines = ["| package | killed | survived | listed equivalent | score | score, equivalents "
             "left out |", "|---|---|---|---|---|---|"]
    for package in [*sorted({_package(row["module"]) for row in checked}), "all"]:
        mine = Counter(row["status"] for row in checked
                       if package == "all" or _package(row["module"]) == package)
        killed, total = mine["killed"], sum(mine.values())
        equivalent = mine["equivalent"]
        lines.append(f"| {package} | {killed} | {total - killed - equivalent} | {equivalent} | "
                     f"{killed / total:.1%} | {killed / max(1, total - equivalent):.1%} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mutants", type=Path, default=Path("mutants"))
    parser.add_argument("--survivors", type=Path, default=None,
                        help="write the mutants no test killed to this Markdown file")
    parser.add_argument("--equivalents", type=Path, default=None,
                        help="the file of mutants judged equivalent, counted apart")
    args = parser.parse_args(argv)
    rows = classify(args.mutants)
    print(score_table(rows))
    if args.equivalents is not None:
        text = args.equivalents.read_text(encoding="utf-8")
        listed = mark_equivalents(rows, listed_equivalents(text, args.mutants))
        print("Target kinds (arithmetic, comparison, constant, index):\n")
        print(target_table(rows))
        print("Mutants listed as equivalent, by what they are in this run: " + ", ".join(
            f"{n} {status}" for status, n in sorted(listed.items())) + ".")
    if args.survivors is not None:
        args.survivors.write_text(survivors(rows), encoding="utf-8")


if __name__ == "__main__":
    main()
