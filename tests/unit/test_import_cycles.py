"""No import cycles inside hwb_tui, type-checking imports included.

import-linter's layers contract (pyproject.toml) keeps cli > commands > tui > demo >
provisioning > core > i18n; this test finds any cycle within a layer, such as two modules of
`core` importing each other, which an import inside a function would otherwise hide.
"""

from __future__ import annotations

import ast
from pathlib import Path

import grimp

import hwb_tui

# Cycles in files that other work in progress is rewriting; each leaves this set when it lands.
ELSEWHERE: set[frozenset[str]] = {
    # held runs (tui/screens/provisioning.py) and the provisioning actor (provision_file.py)
    frozenset({"hwb_tui.tui.app", "hwb_tui.tui.screens.main",
               "hwb_tui.tui.screens.provision_file", "hwb_tui.tui.screens.provisioning"}),
}


def cycles(graph: grimp.ImportGraph) -> list[frozenset[str]]:
    """The strongly connected groups of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work: list[tuple[str, list[str]]] = [
            (root, sorted(graph.find_modules_directly_imported_by(root)))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, todo = work[-1]
            if todo:
                nxt = todo.pop()
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(graph.find_modules_directly_imported_by(nxt))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(frozenset(group))
    return found


def test_cycles_are_found() -> None:
    graph = grimp.ImportGraph()
    for name in ("a", "b", "c"):
        graph.add_module(name)
    graph.add_import(importer="a", imported="b")
    graph.add_import(importer="b", imported="c")
    assert cycles(graph) == []
    graph.add_import(importer="c", imported="a")
    assert cycles(graph) == [frozenset({"a", "b", "c"})]


def test_hwb_tui_has_no_import_cycles() -> None:
    graph = grimp.build_graph("hwb_tui")
    found = [sorted(c) for c in cycles(graph) if c not in ELSEWHERE]
    assert not found, f"import cycles: {found}"


# Files other work in progress is rewriting; each leaves this set when its imports move up.
IMPORTS_ELSEWHERE = {"provisioning/plan.py", "provisioning/decide.py", "core/runs.py",
                     "tui/screens/provisioning.py"}


def test_imports_inside_functions_say_why() -> None:
    """An import inside a function hides a cycle or a cost: each one has a comment saying why
    (on its line or the line above), or it belongs at the top of the module."""
    root = Path(hwb_tui.__file__).parent
    silent = []
    for path in sorted(root.rglob("*.py")):
        name = str(path.relative_to(root))
        if name in IMPORTS_ELSEWHERE:
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        tree = ast.parse("\n".join(lines))
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    here, above = lines[node.lineno - 1], lines[node.lineno - 2]
                    if "#" not in here and not above.strip().startswith("#"):
                        silent.append(f"{name}:{node.lineno}: {here.strip()}")
    assert not silent, "imports inside functions with no reason given:\n" + "\n".join(silent)
