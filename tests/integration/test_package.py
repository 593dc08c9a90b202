"""Packaging guards: dgl is imported in one place, and the package imports cleanly."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DGL_IMPORT = re.compile(r"^\s*(import\s+([\w.]+\s*(as\s+\w+\s*)?,\s*)*dgl\b|from\s+dgl\b)", re.MULTILINE)


def test_only_the_compat_module_imports_dgl():
    sources = [p for folder in ("treelstm", "tasks", "benchmarks") for p in (ROOT / folder).rglob("*.py")]
    importing = sorted(str(p.relative_to(ROOT)) for p in sources if DGL_IMPORT.search(p.read_text()))
    assert importing == ["treelstm/_dgl.py"]


def test_the_guard_sees_an_import():
    assert DGL_IMPORT.search("x = 1\nimport dgl.function as fn\n")
    assert DGL_IMPORT.search("    from dgl import batch\n")
    assert not DGL_IMPORT.search("from treelstm._dgl import dgl\n")


def test_import_treelstm_in_a_fresh_interpreter():
    code = "import treelstm, treelstm.text.embeddings; print(treelstm.TreeLSTM.__name__)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "TreeLSTM"


def _pyproject() -> dict:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_package_folder_under_treelstm_is_installed():
    setuptools = _pyproject()["tool"]["setuptools"]
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "treelstm").rglob("__init__.py")}
    assert set(setuptools["packages"]) == found | {"treelstm_tasks", "treelstm_configs"}
    assert setuptools["package-dir"] == {"treelstm_tasks": "tasks", "treelstm_configs": "configs"}


def test_the_paper_configs_are_package_data_and_the_own_data_examples_are_not():
    from fnmatch import fnmatch

    import yaml

    patterns = _pyproject()["tool"]["setuptools"]["package-data"]["treelstm_configs"]
    shipped = {p.relative_to(ROOT / "configs").as_posix() for p in (ROOT / "configs").rglob("*")
               if any(fnmatch(p.relative_to(ROOT / "configs").as_posix(), pat) for pat in patterns)}
    tables = yaml.safe_load((ROOT / "configs" / "papers.yaml").read_text())
    named = {row["config"] for table in tables.values() for row in table["rows"] if "config" in row}
    assert "papers.yaml" in shipped and named <= shipped
    assert not any(name.startswith("own-data/") for name in shipped)


def test_reproduce_finds_papers_yaml_through_the_installed_package():
    from treelstm import cli

    assert cli.PAPERS == ROOT / "configs" / "papers.yaml"  # the editable install maps treelstm_configs here


def test_tasks_install_as_treelstm_tasks_and_not_as_tasks(tmp_path):
    code = ("import importlib.util; from importlib.metadata import entry_points, version; import treelstm\n"
            "print(sorted(ep.value for ep in entry_points(group='treelstm.tasks')))\n"
            "print(importlib.util.find_spec('tasks'), version('treelstm') == treelstm.__version__)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    points, rest = result.stdout.splitlines()
    assert points == str(sorted(["treelstm_tasks.ner:NamedEntities", "treelstm_tasks.classification:Classification",
                                 "treelstm_tasks.pair_classification:PairClassification",
                                 "treelstm_tasks.pair_regression:PairRegression"]))
    assert rest == "None True"


def test_license_and_changelog():
    import treelstm

    assert _pyproject()["project"]["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n\nCopyright (c) 2026 the treelstm authors\n")
    assert f"\n## {treelstm.__version__} " in (ROOT / "CHANGELOG.md").read_text()
