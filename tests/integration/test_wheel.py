"""The wheel: what it ships (the paper configs, the tasks as ``treelstm_tasks``, py.typed, the license).

Built from a copy of the sources, without build isolation (no download; the dev install has setuptools).
Installing it into a fresh environment and running it is .ci/run's job.
"""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import treelstm

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    for folder in ("treelstm", "tasks", "configs"):
        shutil.copytree(ROOT / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__", "sst-raw"))
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                             "-w", str(out), str(src)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    (path,) = out.glob("treelstm-*.whl")
    return zipfile.ZipFile(path)


def test_the_wheel_ships_the_paper_configs_and_not_the_own_data_ones(wheel):
    names = set(wheel.namelist())
    configs = {n.removeprefix("treelstm_configs/") for n in names if n.startswith("treelstm_configs/")}
    expected = {p.relative_to(ROOT / "configs").as_posix() for d in ("tai2015-sick", "tai2015-sst", "msrp", "conll2003")
                for p in (ROOT / "configs" / d).glob("*.yaml")}
    assert configs == expected | {"__init__.py", "papers.yaml"}


def test_the_wheel_installs_tasks_as_treelstm_tasks(wheel):
    names = set(wheel.namelist())
    assert {f"treelstm_tasks/{p.name}" for p in (ROOT / "tasks").glob("*.py")} <= names
    assert not any(n.startswith(("tasks/", "configs/", "tests/", "benchmarks/")) for n in names)
    assert {"treelstm/py.typed", "treelstm/data/__init__.py", "treelstm/demo/__init__.py"} <= names
    entry_points = wheel.read(f"treelstm-{treelstm.__version__}.dist-info/entry_points.txt").decode()
    assert "ner = treelstm_tasks.ner:NamedEntities" in entry_points and "= tasks." not in entry_points


def test_the_wheel_metadata(wheel):
    info = f"treelstm-{treelstm.__version__}.dist-info"
    metadata = wheel.read(f"{info}/METADATA").decode()
    assert f"\nVersion: {treelstm.__version__}\n" in metadata
    assert "\nRequires-Dist: pyarrow\n" in metadata and "\nLicense-Expression: MIT\n" in metadata
    assert wheel.read(f"{info}/licenses/LICENSE").decode().startswith("MIT License")
