"""The package's architecture, checked: no private names across modules, one-way imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "modal_ibal"
MODULES = sorted(PACKAGE.rglob("*.py"))


def _imports(path: Path):
    """(imported module as a dotted name inside modal_ibal, imported names) for each import."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module != "__future__":
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            if module.startswith("modal_ibal"):
                yield module, [alias.name for alias in node.names]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_another_modules_private_names(path):
    for module, names in _imports(path):
        private = [name for name in names if name.startswith("_")]
        assert not private, f"{path.name} imports {private} from {module}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_nothing_outside_experiments_imports_experiments(path):
    if "experiments" in path.relative_to(PACKAGE).parts:
        return
    for module, _ in _imports(path):
        assert not module.startswith("modal_ibal.experiments"), f"{path.name} imports {module}"


def test_the_math_and_the_engines_import_no_strategy():
    for name in ("representer", "losses", "distance", "labelled_cells", "selection", "coverage",
                 "neighbours", "learner", "scores", "extract", "embedding"):
        for module, _ in _imports(PACKAGE / f"{name}.py"):
            assert not module.startswith("modal_ibal.strategies"), f"{name} imports {module}"
