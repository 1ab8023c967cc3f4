"""The notebooks: stored clean, narrative only, and executed end to end at tiny sizes.

Each notebook is run with nbclient on the ``python3`` kernel (ipykernel's own
kernel spec, installed into the environment with ipykernel; jupyter_client
starts it with this interpreter) in a temporary working directory,
with a cell injected right after its ``parameters`` cell that makes every size
tiny, and another at the end that draws every open figure and reports its
axes, so a plot that fails to render fails the test. The CIFAR-100 section of
notebook 03 runs on a generated ``cifar-100-python/`` fixture in the official
layout, and is skipped (with directions) when the folder is missing.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import write_cifar100
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ("01_quickstart.ipynb", "02_synthetic_experiment.ipynb", "03_images_fig4.ipynb")

# Modules a notebook may import from: the library, the standard library, and tools for data,
# arrays, plots and display. Algorithms come from modal_ibal only.
ALLOWED_IMPORTS = (
    "modal_ibal",
    "numpy",
    "matplotlib",
    "IPython.display",
    "modAL.models",
    "sklearn.datasets",
    "sklearn.model_selection",
    "sklearn.base",
)

TINY = {
    "01_quickstart.ipynb": dict(
        TEST_SIZE=300, N_INITIAL=10, BATCH=5, N_ROUNDS=1, EPOCHS=2, AE_EPOCHS=2,
    ),
    "02_synthetic_experiment.ipynb": dict(
        N_SEEDS=2, N_ROUNDS=1, N_INITIAL=10, BATCH=5, EPOCHS=3,
        STRATEGIES=["random", "ibal-d"], OUT_DIR="out",
    ),
    "03_images_fig4.ipynb": dict(
        N_SEEDS=1, N_ROUNDS=1, N_INITIAL=10, BATCH=5, EPOCHS=2,
        STRATEGIES=["random", "ibal-d"], CIFAR_N_INITIAL=10, CIFAR_BATCH=5, CIFAR_ROUNDS=1,
        CIFAR_EPOCHS=1, CIFAR_POOL_SIZE=1000, CIFAR_TEST_SIZE=1000, OUT_DIR="out",
    ),
}

# Titles of the figures each run must draw, in order of creation (one list per figure).
FIGURES = {
    "01_quickstart.ipynb": [],
    "02_synthetic_experiment.ipynb": [["Fig. 1"], ["Fig. 2", "Fig. 2"]],
    "03_images_fig4.ipynb": [
        ["digits"], ["digits", "digits"], ["Fig. 4a, digits", "Fig. 4b, digits"],
        ["CIFAR-100"], ["CIFAR-100"], ["Fig. 4a, CIFAR-100", "Fig. 4b, CIFAR-100"],
    ],
}

# Draws every open figure (Agg renders on draw) and prints the text on its axes.
REPORT_FIGURES = """
import json as _json
import sys as _sys
import matplotlib.pyplot as _plt
print("EXECUTABLE=" + _sys.executable)
_report = []
for _number in _plt.get_fignums():
    _figure = _plt.figure(_number)
    _figure.canvas.draw()
    _report.append([[_ax.get_title(), _ax.get_xlabel(), _ax.get_ylabel()] for _ax in _figure.axes])
print("FIGURES=" + _json.dumps(_report))
"""


def _read(name: str) -> nbformat.NotebookNode:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(notebook)
    return notebook


def _code_cells(notebook):
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def _parameters_index(notebook) -> int:
    tagged = [i for i, cell in enumerate(notebook.cells)
              if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1, "a notebook needs exactly one cell tagged 'parameters'"
    return tagged[0]


def _parameter_names(notebook) -> set[str]:
    tree = ast.parse(notebook.cells[_parameters_index(notebook)].source)
    return {target.id for node in tree.body for target in node.targets}


def _execute(name: str, overrides: dict, workdir: Path) -> tuple[nbformat.NotebookNode, list]:
    notebook = _read(name)
    assert set(overrides) <= _parameter_names(notebook)
    injected = nbformat.v4.new_code_cell(
        "\n".join(f"{key} = {value!r}" for key, value in overrides.items())
    )
    injected.metadata["tags"] = ["injected-parameters"]
    notebook.cells.insert(_parameters_index(notebook) + 1, injected)
    notebook.cells.append(nbformat.v4.new_code_cell(REPORT_FIGURES))
    client = NotebookClient(notebook, kernel_name="python3", timeout=300,
                            resources={"metadata": {"path": str(workdir)}})
    client.execute()
    report = "".join(output.get("text", "") for output in notebook.cells[-1].outputs)
    executable = report.split("EXECUTABLE=", 1)[1].splitlines()[0]
    assert executable == sys.executable, (
        f"The 'python3' kernel runs {executable}, not this interpreter {sys.executable}; "
        "another 'python3' kernel spec shadows ipykernel's own (see 'jupyter kernelspec list')."
    )
    figures = json.loads(report.split("FIGURES=", 1)[1])
    return notebook, figures


def _stream(notebook, name: str) -> str:
    return "".join(output.get("text", "") for cell in _code_cells(notebook)
                   for output in cell.outputs
                   if output.output_type == "stream" and output.name == name)


def _warnings(notebook) -> list[str]:
    """Lines on stderr, except tqdm's note that ipywidgets is not installed.

    The runner imports ``tqdm.auto``, which warns once per kernel without
    ipywidgets even when the progress bar is off.
    """
    lines = _stream(notebook, "stderr").splitlines()
    return [line for line in lines
            if "IProgress not found" not in line and "import tqdm as notebook_tqdm" not in line]


def _check_figures(figures: list, expected: list) -> None:
    assert len(figures) == len(expected)
    for axes, titles in zip(figures, expected, strict=True):
        assert len(axes) == len(titles)
        for (title, _, ylabel), start in zip(axes, titles, strict=True):
            assert title.startswith(start)
            assert ylabel


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """An empty working directory, and a headless matplotlib backend for the kernel."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


# -- stored form -------------------------------------------------------------------------------


def test_every_notebook_is_tested():
    assert sorted(path.name for path in NOTEBOOKS.glob("*.ipynb")) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_stored_without_outputs_or_execution_counts(name):
    notebook = _read(name)
    for cell in _code_cells(notebook):
        assert cell.outputs == []
        assert cell.execution_count is None
    assert notebook.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("name", NAMES)
def test_parameters_cell_comes_first_and_holds_only_constants(name):
    notebook = _read(name)
    index = _parameters_index(notebook)
    assert notebook.cells[index].cell_type == "code"
    assert _code_cells(notebook)[0] is notebook.cells[index]
    for node in ast.parse(notebook.cells[index].source).body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1
        assert isinstance(node.targets[0], ast.Name) and node.targets[0].id.isupper()
        ast.literal_eval(node.value)


@pytest.mark.parametrize("name", NAMES)
def test_code_is_narrative_only(name):
    """No function, class or lambda is defined; imports come from the library or the tools."""
    for cell in _code_cells(_read(name)):
        for node in ast.walk(ast.parse(cell.source)):
            assert not isinstance(
                node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda
            ), f"{name} defines code inline:\n{cell.source}"
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            for module in modules:
                allowed = module.split(".")[0] in sys.stdlib_module_names or any(
                    module == root or module.startswith(root + ".") for root in ALLOWED_IMPORTS
                )
                assert allowed, f"{name} imports {module}"


# -- execution -----------------------------------------------------------------------------------


def test_quickstart_runs(workdir):
    name = "01_quickstart.ipynb"
    notebook, figures = _execute(name, TINY[name], workdir)
    _check_figures(figures, FIGURES[name])
    assert _warnings(notebook) == []
    text = _stream(notebook, "stdout")
    assert text.count("round 0:") == 2 and text.count("round 1:") == 2
    assert "round 2:" not in text


def test_synthetic_notebook_runs(workdir):
    name = "02_synthetic_experiment.ipynb"
    notebook, figures = _execute(name, TINY[name], workdir)
    _check_figures(figures, FIGURES[name])
    assert _warnings(notebook) == []
    tables = [output.data["text/markdown"] for cell in _code_cells(notebook)
              for output in cell.outputs if "text/markdown" in output.get("data", {})]
    assert len(tables) == 1 and "| ibal-d |" in tables[0]
    assert (workdir / "out" / "results.csv").is_file()


def test_images_notebook_runs_cifar100_on_a_fixture(workdir, tmp_path):
    write_cifar100(tmp_path / "data", n_train=60, n_test=30)
    overrides = {**TINY["03_images_fig4.ipynb"], "DATA_DIR": str(tmp_path / "data")}
    notebook, figures = _execute("03_images_fig4.ipynb", overrides, workdir)
    _check_figures(figures, FIGURES["03_images_fig4.ipynb"])
    assert _warnings(notebook) == []
    assert "CIFAR-100 test split: X (30, 3, 32, 32)" in _stream(notebook, "stdout")
    results = (workdir / "out" / "cifar100" / "results.csv").read_text(encoding="utf-8")
    assert results.count("cifar100,ibal-d,0,1,15,accuracy,") == 1


def test_images_notebook_skips_cifar100_without_data(workdir, tmp_path):
    overrides = {**TINY["03_images_fig4.ipynb"], "N_ROUNDS": 0, "DATA_DIR": str(tmp_path)}
    notebook, figures = _execute("03_images_fig4.ipynb", overrides, workdir)
    _check_figures(figures, FIGURES["03_images_fig4.ipynb"][:3])
    text = _stream(notebook, "stdout")
    assert "Skipping the CIFAR-100 section" in text
    assert str(tmp_path / "cifar-100-python") in text
    assert not (workdir / "out" / "cifar100").exists()
