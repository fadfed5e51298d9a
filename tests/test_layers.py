"""The import rule of the house: arrows point down, and no module imports itself round a cycle.

The import graph is read from the source with :mod:`ast`: module-level imports and imports
inside functions (lazy ones count: they run), relative and absolute; imports under
``if TYPE_CHECKING:`` are left out (they never run). ``LAYERS`` is the order docs/design.md
describes, bottom first. A module may import any module of a lower layer and of its own group;
groups that share a layer are siblings and never import each other (the renderer and the
simulator know nothing of one another).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "flowsim"

#: Bottom first: each layer is one or more sibling groups, each group a list of modules (a name
#: covers its submodules; the package root ``flowsim`` covers only ``flowsim/__init__.py``).
LAYERS: list[dict[str, list[str]]] = [
    {
        "base": [
            "flowsim.errors",
            "flowsim._base",
            "flowsim._extras",
            "flowsim._output",
            "flowsim.diagnostics",
            "flowsim.gc_pause",
            "flowsim.overlay",
            "flowsim.result",
            "flowsim.tdist",
            "flowsim.dsl.keywords",
            "flowsim.structure",
        ]
    },
    {"model": ["flowsim.model"]},
    {
        "language": ["flowsim.dsl"],
        "model functions": [
            "flowsim.graph",
            "flowsim.scenario",
            "flowsim.checks",
            "flowsim.blocks",
            "flowsim.language",
        ],
    },
    {"history": ["flowsim.history"]},
    {"render": ["flowsim.render"], "sim": ["flowsim.sim"]},
    {"api": ["flowsim", "flowsim.api", "flowsim.edit"]},
    {"report": ["flowsim.report"]},
    {
        "embed": ["flowsim.embed", "flowsim.mkdocs", "flowsim.sphinx"],
        "studio": ["flowsim.studio"],
    },
    {"cli": ["flowsim.cli"]},
]


def _modules() -> dict[str, tuple[Path, bool]]:
    """Every module of the package: dotted name → (file, is a package ``__init__``)."""
    out: dict[str, tuple[Path, bool]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return out


def _type_only(test: ast.expr) -> bool:
    """``if TYPE_CHECKING:`` or ``if typing.TYPE_CHECKING:``."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement that can run: all but those under ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and _type_only(node.test):
            todo.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return found


def _targets(node: ast.Import | ast.ImportFrom, package: str, modules: set[str]) -> set[str]:
    """The flowsim modules an import statement loads (``from a import b`` may mean a.b)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            parts = package.split(".")
            parts = parts[: len(parts) - node.level + 1]
            base = ".".join([*parts, base] if base else parts)
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
    out = set()
    for name in names:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        if name:
            out.add(name)
    return out


def import_graph() -> nx.DiGraph[str]:
    """flowsim's modules and which imports which (lazy imports in, type-only ones out)."""
    modules = _modules()
    graph: nx.DiGraph[str] = nx.DiGraph()
    for name, (path, is_package) in modules.items():
        graph.add_node(name)
        package = name if is_package else name.rpartition(".")[0]
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            for target in _targets(node, package, set(modules)) - {name}:
                graph.add_edge(name, target)
    return graph


def group_of(module: str) -> tuple[int, str]:
    """(layer number, group name) of a module: the group naming it or its closest package."""
    best: tuple[int, int, str] | None = None
    for level, groups in enumerate(LAYERS):
        for group, names in groups.items():
            for name in names:
                covers = module == name or (name != "flowsim" and module.startswith(name + "."))
                if covers and (best is None or len(name) > best[0]):
                    best = (len(name), level, group)
    if best is None:
        raise LookupError(f"{module} has no layer: add it to LAYERS and docs/design.md")
    return best[1], best[2]


GRAPH = import_graph()


def test_the_graph_sees_lazy_imports_and_ignores_type_only_ones() -> None:
    # flowsim/__init__ imports the formatter inside a function (Process.to_flow's hook) ...
    assert GRAPH.has_edge("flowsim", "flowsim.dsl.formatter")
    # ... and flowsim/graph.py imports the model under TYPE_CHECKING only.
    assert not GRAPH.has_edge("flowsim.graph", "flowsim.model")
    # relative and aliased forms resolve to modules: ``from flowsim import render``
    assert GRAPH.has_edge("flowsim.cli.lang", "flowsim.render")


def test_there_are_no_import_cycles() -> None:
    cycles = [sorted(c) for c in nx.strongly_connected_components(GRAPH) if len(c) > 1]
    assert cycles == []
    assert list(nx.selfloop_edges(GRAPH)) == []


def test_every_module_has_a_layer() -> None:
    for module in GRAPH:
        group_of(module)


def test_imports_point_down() -> None:
    upward = []
    for importer, imported in GRAPH.edges:
        (low, mine), (level, theirs) = group_of(importer), group_of(imported)
        if mine != theirs and level >= low:
            upward.append(f"{importer} ({mine}) imports {imported} ({theirs})")
    assert upward == []


def test_the_model_imports_only_the_base() -> None:
    assert {group_of(m)[1] for m in GRAPH.successors("flowsim.model")} <= {"base"}


@pytest.mark.parametrize("module", ["flowsim.dsl.keywords", "flowsim.graph"])
def test_leaves_import_nothing_of_flowsim(module: str) -> None:
    assert list(GRAPH.successors(module)) == []


def test_design_doc_lists_the_layers_in_this_order() -> None:
    text = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    section = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\d+) \| (.+?) \|", section, flags=re.MULTILINE)
    documented = [(int(n), {g.strip(" `*") for g in groups.split(",")}) for n, groups in rows]
    assert documented == [(n + 1, set(groups)) for n, groups in enumerate(LAYERS)]


def test_dynamic_imports_are_the_package_roots_lazy_names_and_point_down() -> None:
    """``importlib.import_module`` is invisible to the graph above: only ``flowsim/__init__``
    uses it, for the names it serves lazily, and those modules sit below it."""
    dynamic = []
    for name, (path, _) in _modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith(
                ("import_module", "__import__")
            ):
                dynamic.append(name)
    assert dynamic == ["flowsim"]
    import flowsim

    root = group_of("flowsim")[0]
    assert all(group_of(module)[0] < root for module in flowsim._LAZY.values())
