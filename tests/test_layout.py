"""The package's architecture, checked: a declared layer map, no private names across sub-packages,
small modules, tests that mirror the packages, and the README's layout drawn from the tree."""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "modal_ibal"
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_LINES = 400
SHARED_TOOLBOX = "_utils"  # private to the library, shared by its layers

# Which layer may import which. A layer is a sub-package (or a top-level module); each
# may import itself and the layers listed for it, never one further down this list.
# ``_utils`` is the library's private toolbox: every layer may use it, no user imports it.
LAYERS: dict[str, set[str]] = {
    "_utils": set(),
    "metrics": set(),
    "readers": {"_utils"},
    "search": {"_utils"},
    "embedding": {"_utils", "readers", "search"},
    "scoring": {"_utils", "readers", "search", "embedding"},
    "coverage": {"_utils", "search", "scoring"},
    "strategies": {"_utils", "readers", "search", "embedding", "scoring", "coverage"},
    "tuning": {"_utils", "metrics", "strategies"},
    "stopping": {"_utils", "readers", "search", "embedding", "scoring", "coverage", "strategies"},
    "labelling": {"_utils", "readers", "strategies", "stopping", "__init__"},
    "experiments": {"_utils", "metrics", "readers", "search", "embedding", "scoring", "coverage",
                    "strategies", "stopping", "labelling", "__init__"},
    "__init__": {"_utils", "search", "embedding", "scoring", "coverage", "strategies", "tuning"},
}


def layer_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def _imports(path: Path):
    """(imported module as a dotted name inside modal_ibal, imported names) for each import."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rsplit(".", 1)[0]
    else:
        package = package.removesuffix(".__init__")
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module != "__future__":
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            if module.startswith("modal_ibal"):
                yield module, [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("modal_ibal"):
                    yield alias.name, []


def _target_layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_module_belongs_to_a_declared_layer():
    assert {layer_of(path) for path in MODULES} == set(LAYERS)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_layer_map(path):
    layer = layer_of(path)
    for module, _ in _imports(path):
        target = _target_layer(module)
        assert target == layer or target in LAYERS[layer], (
            f"{path.relative_to(PACKAGE)} ({layer}) imports {module} ({target}); "
            f"{layer} may import {sorted(LAYERS[layer])}"
        )


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_private_names_cross_sub_packages(path):
    """Inside a sub-package its private modules and names are shared; across, only public ones."""
    for module, names in _imports(path):
        if _target_layer(module) == layer_of(path):
            continue
        private = [part for part in module.split(".") if part.startswith("_")
                   and part != SHARED_TOOLBOX]
        private += [name for name in names if name.startswith("_")]
        assert not private, f"{path.relative_to(PACKAGE)} imports {private} from {module}"


def _module_file(module: str) -> Path | None:
    """The file of a dotted module name inside the package (a package: its ``__init__``)."""
    base = PACKAGE.parent.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def test_no_two_modules_import_each_other_even_at_call_time():
    """The module import graph (imports inside functions included) has no cycle."""
    edges = {}
    for path in MODULES:
        targets = set()
        for module, names in _imports(path):
            submodules = [_module_file(f"{module}.{name}") for name in names]
            targets.update(f for f in submodules if f)
            if not names or not all(submodules):  # names from the module itself
                targets.add(_module_file(module))
        edges[path] = targets - {path}
    done, stack = set(), []

    def visit(path: Path) -> None:
        assert path not in stack, "import cycle: " + " -> ".join(
            str(p.relative_to(PACKAGE)) for p in (*stack[stack.index(path):], path))
        if path in done:
            return
        stack.append(path)
        for target in edges.get(path, ()):
            visit(target)
        stack.pop()
        done.add(path)

    for path in MODULES:
        visit(path)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_every_module_is_small_and_says_what_it_is(path):
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) < MAX_LINES, f"{path.name}: {len(text.splitlines())} lines"
    assert ast.get_docstring(ast.parse(text)), f"{path.name} has no module docstring"


def test_the_layer_map_is_acyclic():
    seen: dict[str, int] = {}

    def depth(layer: str, stack: tuple[str, ...] = ()) -> int:
        assert layer not in stack, f"layer cycle: {' -> '.join((*stack, layer))}"
        if layer not in seen:
            seen[layer] = 1 + max((depth(below, (*stack, layer)) for below in LAYERS[layer]),
                                  default=0)
        return seen[layer]

    for layer in LAYERS:
        depth(layer)


def test_every_sub_package_has_its_test_folder():
    packages = {path.parent.name.lstrip("_") for path in PACKAGE.glob("*/__init__.py")}
    tests = {path.name for path in (ROOT / "tests").iterdir() if path.is_dir()}
    assert packages <= tests, f"sub-packages without a tests/ folder: {sorted(packages - tests)}"


def _entry(indent: int, name: str, path: Path) -> list[str]:
    """One module: its name, then its docstring's first sentence, wrapped at 100."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    paragraph = " ".join(doc.strip().split("\n\n")[0].split())
    summary = re.split(r"\.\s+(?=[A-Z])", paragraph)[0].rstrip(".")  # not at "Eq. 2"
    wrapped = textwrap.wrap(summary, 100 - 30)
    lines = [f"{' ' * indent}{name:<{30 - indent}}{wrapped[0]}"]
    return lines + [" " * 30 + line for line in wrapped[1:]]


def layout() -> str:
    """The README's layout block, drawn from the tree: every module and its docstring's first line."""
    lines = ["modal_ibal/"]
    for path in sorted(PACKAGE.iterdir()):
        if path.suffix == ".py":
            lines += _entry(2, path.name, path)
        elif (path / "__init__.py").is_file():
            lines += _entry(2, path.name + "/", path / "__init__.py")
            for module in sorted(path.glob("*.py")):
                if module.name != "__init__.py":
                    lines += _entry(4, module.name, module)
    return "\n".join(lines)


def test_the_readme_layout_is_the_tree():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Layout\n.*?```\n(modal_ibal/\n.*?)\n```", readme, re.S)
    assert block, "README.md has no ## Layout block starting with modal_ibal/"
    assert block.group(1) == layout(), "README layout is stale: run python tests/test_layout.py"


def public_names() -> str:
    """The README's list of public names: each public module's ``__all__``, wrapped at 100."""
    import importlib
    import pkgutil

    import modal_ibal

    lines, everything = [], set()
    modules = [info.name for info in pkgutil.walk_packages(modal_ibal.__path__, "modal_ibal.")
               if not any(part.startswith("_") for part in info.name.split("."))]
    for name in ["modal_ibal", *sorted(modules)]:
        exported = sorted(getattr(importlib.import_module(name), "__all__", []), key=str.lower)
        everything.update(exported)
        if exported:
            text = f"- `{name}` ({len(exported)}): " + ", ".join(f"`{n}`" for n in exported)
            lines += textwrap.wrap(text, 100, subsequent_indent="  ", break_on_hyphens=False)
    top = set(modal_ibal.__all__)
    across = {imported for path in MODULES if layer_of(path) != "__init__"
              for module, names in _imports(path)
              if _target_layer(module) not in (layer_of(path), SHARED_TOOLBOX)
              for imported in names} - top
    summary = (f"{len(everything)} distinct names: {len(top)} in `modal_ibal` itself, "
               f"{len(everything & across)} that another layer imports, "
               f"{len(everything - top - across)} more for users alone.")
    return "\n".join([summary, "", *lines])


def test_the_readme_lists_every_public_name():
    """Names reachable without an underscore are the README's list: none appears unseen."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- public names -->\n(.*?)\n<!-- end of public names -->", readme, re.S)
    assert block, "README.md has no public names block"
    assert block.group(1) == public_names(), (
        "README public names are stale: run python tests/test_layout.py --names")


if __name__ == "__main__":
    import sys

    print(public_names() if "--names" in sys.argv else layout())
