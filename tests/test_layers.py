"""The layers, read from the imports (ast) of every module: data flows one way.

cli → serve → pipelines → eval → indexes / generators → models / ingest / store → elements / settings /
errors / search_text.
A module may import its own folder or a lower layer, never a sibling folder of its layer nor a higher one,
and no modules import each other in a circle. Imports inside functions and under TYPE_CHECKING count: they
are dependencies a reader has to follow all the same.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# folder in the repository → the import name it installs as (pyproject's package-dir)
FOLDERS = {"mmrag": "mmrag", "pipelines": "mmrag.pipelines", "indexes": "mmrag.indexes", "cli": "mmrag.cli"}

# Top to bottom. A "part" is the second component of a module name (mmrag.<part>...); the package's own
# __init__ (the `open_index` facade) is "mmrag".
LAYERS: list[set[str]] = [
    {"cli", "langchain", "mmrag"},  # entry points: the CLI, the LangChain adapter, the package facade
    {"serve"},  # the server's three doors (HTTP API, web page, MCP), started by the CLI
    {"pipelines"},
    {"eval"},
    {"indexes", "generators"},
    {"models", "ingest", "store", "fusion"},
    {"elements", "settings", "references", "query_rewrite", "crash", "params"},
    {"errors", "search_text"},  # search_text: what the text channel reads of an element (no mmrag imports)
]

# Known violations, each (importer, imported); the last test fails once one is gone, so this list only ever
# shrinks. Empty since the MMIndex circle was broken (ingest and query receive IndexParts).
ALLOWED: set[tuple[str, str]] = set()

# Inside pipelines/, the data path receives the index's parts and never reaches back into the facade
# (pipelines/index.py, MMIndex), not even for a type hint.
DATA_PATH = ("mmrag.pipelines.ingest", "mmrag.pipelines.purge", "mmrag.pipelines.query", "mmrag.pipelines.distributed",
             "mmrag.pipelines.parts", "mmrag.pipelines.workers")


def _modules() -> dict[str, Path]:
    found = {}
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = [p for p in path.relative_to(ROOT / folder).with_suffix("").parts if p != "__init__"]
            found[".".join([package, *parts])] = path
    return found


MODULES = _modules()


def _target(name: str) -> str:
    """The module an import names (`from mmrag.x import y` may name module mmrag.x.y or attribute y)."""
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def _imports() -> set[tuple[str, str]]:
    edges = set()
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level:
                raise AssertionError(f"{path}: relative import; the project imports absolutely (mmrag.…)")
            for name in names:
                if name == "mmrag" or name.startswith("mmrag."):
                    target = _target(name)
                    if target != module:
                        edges.add((module, target))
    return edges


IMPORTS = _imports()


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _layer(part: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if part in layer)


def test_every_module_has_a_layer() -> None:
    parts = {_part(m) for m in MODULES}
    unplaced = parts - set().union(*LAYERS)
    assert not unplaced, f"give these a layer in LAYERS (and docs/development.md's Layout): {sorted(unplaced)}"
    assert {"mmrag.pipelines.index", "mmrag.indexes.base", "mmrag.cli.app", "mmrag.elements"} <= set(MODULES)


def test_imports_run_down_the_layers() -> None:
    wrong = []
    for importer, imported in sorted(IMPORTS - ALLOWED):
        a, b = _part(importer), _part(imported)
        if a != b and _layer(a) >= _layer(b):
            wrong.append(f"{importer} imports {imported} ({a} → {b})")
    assert not wrong, "imports that run up or sideways:\n" + "\n".join(wrong)


def test_no_import_circles() -> None:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for importer, imported in IMPORTS - ALLOWED:
        graph[importer].add(imported)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    circles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                circles.append(path[path.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not circles, "import circles:\n" + "\n".join(" → ".join(c) for c in circles)


def test_allowed_violations_still_exist() -> None:
    gone = ALLOWED - IMPORTS
    assert not gone, f"fixed, so remove from ALLOWED in tests/test_layers.py: {sorted(gone)}"


def test_the_data_path_never_reaches_back_into_the_facade() -> None:
    assert set(DATA_PATH) <= set(MODULES)
    back = sorted((a, b) for a, b in IMPORTS if a in DATA_PATH and b == "mmrag.pipelines.index")
    assert not back, f"these take the facade back; pass them IndexParts instead: {back}"
