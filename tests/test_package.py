"""Packaging guards: dgl is imported in one place, and the package imports cleanly."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
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
    code = "import treelstm, treelstm.embeddings; print(treelstm.TreeLSTM.__name__)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "TreeLSTM"
