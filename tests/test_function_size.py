"""No function over 80 lines (issue 17, "the house"): a ratchet.

A function's length is what :mod:`ast` says, ``end_lineno - lineno + 1``: from its ``def``
line to its last line, less its docstring (decorators not counted either). The limit is on
code: a public function's numpydoc docstring (Parameters, Returns, Raises, Examples, in the
style of pm4py and networkx) may well be longer than its body, and should not be cut to fit.
Short functions are a habit here (≤ 60 lines); 80 is the hard limit. :data:`OVER` lists the
functions that still exceed it, with their length today. The test fails when

- a function not on the list grows over 80 lines (split it into named steps instead);
- a listed function grows;
- a listed function shrinks, or is gone: lower its figure, or remove it from the list.

So the list only ever shrinks: never add to it, never raise a figure.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "flowsim"

#: the hard limit, in lines
LIMIT = 80

#: (module path, qualified name) → its length today, for the functions still over LIMIT
OVER: dict[tuple[str, str], int] = {}


def _docstring_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """The lines taken by the function's docstring (0 without one)."""
    first = node.body[0]
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        assert first.end_lineno is not None
        return first.end_lineno - first.lineno + 1
    return 0


def _functions(tree: ast.AST, prefix: str = "") -> list[tuple[str, int]]:
    """(qualified name, length) of every function and method, nested ones included."""
    out: list[tuple[str, int]] = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            name = f"{prefix}{node.name}"
            assert node.end_lineno is not None
            out.append((name, node.end_lineno - node.lineno + 1 - _docstring_lines(node)))
            out += _functions(node, f"{name}.")
        elif isinstance(node, ast.ClassDef):
            out += _functions(node, f"{prefix}{node.name}.")
        else:
            out += _functions(node, prefix)
    return out


def lengths() -> dict[tuple[str, str], int]:
    """(module path, qualified name) → length, for every function of the package.

    A name defined twice in one module (e.g. under ``if TYPE_CHECKING``) keeps the longest.
    """
    found: dict[tuple[str, str], int] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=module)
        for name, n in _functions(tree):
            found[(module, name)] = max(n, found.get((module, name), 0))
    return found


def test_no_new_function_over_the_limit() -> None:
    new = {k: n for k, n in lengths().items() if n > LIMIT and k not in OVER}
    assert not new, (
        f"functions over {LIMIT} lines: {new}; split them into named steps "
        "(the list in this test only shrinks)"
    )


def test_listed_functions_only_shrink() -> None:
    now = lengths()
    grown = {k: (n, now[k]) for k, n in OVER.items() if now.get(k, 0) > n}
    assert not grown, f"listed functions grew (listed, now): {grown}"
    done = [k for k in OVER if now.get(k, 0) <= LIMIT]
    assert not done, f"now within {LIMIT} lines or gone: remove them from OVER: {done}"
    shrunk = {k: now[k] for k, n in OVER.items() if LIMIT < now[k] < n}
    assert not shrunk, f"listed functions shrank: lower their figures in OVER to {shrunk}"


def test_the_measure() -> None:
    """The count runs from the ``def`` line to the last line, less the docstring."""
    tree = ast.parse('@decorator\ndef f(x):\n    """Doc."""\n\n    return x\n')
    assert _functions(tree) == [("f", 3)]
    tree = ast.parse('def f(x):\n    """Doc.\n\n    More.\n    """\n    return x\n')
    assert _functions(tree) == [("f", 2)]
    tree = ast.parse("def f(x):\n    x = 'not a docstring'\n    return x\n")
    assert _functions(tree) == [("f", 3)]
    tree = ast.parse("class C:\n    def m(self):\n        def inner():\n            pass\n")
    assert _functions(tree) == [("C.m", 3), ("C.m.inner", 2)]
