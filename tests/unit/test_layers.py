"""The package's layers: every import points down (or within its own layer), and no modules import each
other round in a circle, lazy imports inside functions included."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "treelstm"
LAYERS = [
    {"_dgl", "errors", "files", "notes", "schema"},
    {"trees"},
    {"nn", "text"},
    {"models", "data"},
    {"viz"},
    {"runner"},
    {"demo", "cli", "integrations"},
]
RANK = {part: k for k, layer in enumerate(LAYERS) for part in layer}


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(path: Path, name: str, known: set[str]) -> set[str]:
    """The treelstm modules a file imports, anywhere in it but under ``if TYPE_CHECKING:`` (``from treelstm.x
    import y`` counts module ``treelstm.x.y`` when that is a module)."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(inner) for node in ast.walk(tree) if isinstance(node, ast.If)
                   and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
                   for inner in ast.walk(node)}  # imports for annotations only are not dependencies
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("treelstm")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            if not base.startswith("treelstm"):
                continue
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {module for module in found if module in known and module != name}


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


GRAPH = {name: imports(path, name, set(modules())) for name, path in modules().items()}


@pytest.mark.parametrize("module", sorted(name for name in GRAPH if layer(name) != "__init__"))
def test_imports_point_down(module):
    up = [target for target in GRAPH[module]
          if layer(target) != "__init__" and RANK[layer(target)] > RANK[layer(module)]]
    assert not up, f"{module} imports {up} from a higher layer"


def test_the_layers_name_every_part_of_the_package():
    parts = {layer(name) for name in GRAPH} - {"__init__"}
    assert parts <= set(RANK), f"not in a layer: {sorted(parts - set(RANK))}"


def test_no_import_cycles():
    cycles = []

    def visit(node, path, on_path, done):
        for target in GRAPH[node]:
            if layer(target) == "__init__" or target == "treelstm":
                continue
            if target in on_path:
                cycles.append(path[path.index(target):] + [target])
            elif target not in done:
                on_path.add(target)
                visit(target, path + [target], on_path, done)
                on_path.discard(target)
        done.add(node)

    done: set[str] = set()
    for start in sorted(GRAPH):
        if start not in done:
            visit(start, [start], {start}, done)
    assert not cycles, f"import cycles: {cycles[:3]}"
