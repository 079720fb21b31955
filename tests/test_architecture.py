"""The shape of `sim`: no import cycle, layers that point one way, short functions, one compiled path.

Imports are read from the source with `ast`, at module level and inside
functions alike (a lazy import still runs, so it still closes a cycle); those
under `if TYPE_CHECKING:` are left out, as they never run. `from sim.x import y`
is an edge to `sim.x.y` when that is a module, else to `sim.x`; `from sim
import x` is an edge to `sim.x` when x is a module, else to `sim` (the
package's `__init__`).

Run as a script to list every import cycle of the package:

    .venv/bin/python tests/test_architecture.py
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

#: The package's source beside these tests (not whichever `sim` is installed).
PACKAGE = Path(__file__).resolve().parent.parent / "sim"

#: The runner, the store and result it builds on, and the interfaces that use them.
LAYERS = ("sim.experiment", "sim.store", "sim.result", "sim.files", "sim.output", "sim.report",
          "sim.sweep", "sim.cli", "sim.distributed")

#: What the runner (`sim.experiment`) must never import: the interfaces, and plotting.
NOT_IN_RUNNER = ("sim.output", "sim.report", "sim.cli", "sim.sweep", "matplotlib")


def module_files() -> dict[str, Path]:
    """Every module of the package (a package by its `__init__.py`), by dotted name."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        if all((PACKAGE.parent.joinpath(*rel.parts[:i]) / "__init__.py").is_file()
               for i in range(1, len(rel.parts))):
            found[".".join(parts)] = path
    return found


def _type_checking(test: ast.expr) -> bool:
    return ((isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
            or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def _runtime_imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements under `node` that can run (not under `if TYPE_CHECKING:`)."""
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
        return
    if isinstance(node, ast.If) and _type_checking(node.test):
        children: Iterable[ast.AST] = node.orelse
    else:
        children = ast.iter_child_nodes(node)
    for child in children:
        yield from _runtime_imports(child)


def _within(name: str, modules: Iterable[str]) -> str:
    """The longest of `modules` that `name` is or lies in (`name` itself if none)."""
    best = name
    for m in modules:
        if (name == m or name.startswith(m + ".")) and (best == name or len(m) > len(best)):
            best = m
    return best


def imports_of(module: str, files: dict[str, Path] | None = None) -> set[str]:
    """The modules `module` imports at run time (package modules resolved as the rules above).

    Args:
        module: A dotted module name of the package.
        files: `module_files()` (computed if not given).

    Returns:
        Dotted names: modules of the package, and other modules as written.
    """
    files = module_files() if files is None else files
    path = files[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(_within(alias.name, files) for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            base = f"{anchor}.{base}" if base else anchor
        for alias in node.names:
            child = f"{base}.{alias.name}"
            found.add(child if child in files else _within(base, files))
    found.discard(module)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module → the package modules it imports at run time, for every module of the package."""
    files = module_files()
    return {m: {d for d in imports_of(m, files) if d in files} for m in files}


def _components(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of `graph` (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _cycle_through(graph: dict[str, set[str]], members: list[str]) -> list[str]:
    """One cycle through the first of `members` (a component), as a path back to it."""
    start, inside = members[0], set(members)
    paths = {start: [start]}
    queue = [start]
    while queue:  # breadth first: the shortest way back
        v = queue.pop(0)
        for w in sorted(graph[v] & inside):
            if w == start:
                return [*paths[v], start]
            if w not in paths:
                paths[w] = [*paths[v], w]
                queue.append(w)
    raise AssertionError(f"{members} is not a cycle")


def import_cycles(modules: Iterable[str] | None = None) -> list[list[str]]:
    """The import cycles among `modules` (default: the whole package).

    Args:
        modules: Dotted module names; the graph is restricted to the imports among them.

    Returns:
        One cycle per group of modules that import one another, as a path that
        ends where it starts (`[a, b, a]`); empty when there is none.
    """
    graph = import_graph()
    keep = set(graph if modules is None else modules)
    sub = {m: graph[m] & keep for m in sorted(keep & set(graph))}
    return [_cycle_through(sub, comp) for comp in _components(sub) if len(comp) > 1]


def _show(cycles: list[list[str]]) -> str:
    return "\n".join(" → ".join(c) for c in cycles)


def test_the_layer_modules_exist() -> None:
    files = module_files()
    assert set(LAYERS) <= set(files), set(LAYERS) - set(files)


def test_no_import_cycle_in_the_package() -> None:
    cycles = import_cycles()
    assert not cycles, "import cycles:\n" + _show(cycles)


def test_the_scenario_depends_on_nothing_above_it() -> None:
    """Config imports only the registries (which load the built-in kinds by name, on first use)."""
    assert imports_of("sim.scenario") & set(module_files()) == {"sim.registry"}
    assert not imports_of("sim.registry") & set(module_files())


def _functions() -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    for module, path in module_files().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield module, node


def test_no_function_is_longer_than_80_lines() -> None:
    long = [f"{m}.{f.name}: {f.end_lineno - f.lineno + 1}" for m, f in _functions()
            if f.end_lineno - f.lineno + 1 > 80]
    assert not long, long


def test_the_model_step_reads_as_the_story_of_a_period() -> None:
    step = next(f for m, f in _functions() if m == "sim.model" and f.name == "step")
    assert step.end_lineno - step.lineno + 1 <= 20


def test_only_sim_jit_chooses_how_code_is_compiled() -> None:
    """No numpy twin of a kernel, no switch between them: numba is imported in `sim.jit` alone."""
    users = sorted(m for m in module_files() if m != "sim.jit" and any(
        d == "numba" or d.startswith("numba.") or d == "llvmlite" for d in imports_of(m)))
    assert not users, users
    twins = sorted(m for m, path in module_files().items()
                   if m != "sim.jit" and ("jit.ENABLED" in path.read_text(encoding="utf-8")
                                          or "RETENTION_LAB_JIT" in path.read_text(encoding="utf-8")))
    assert not twins, twins


def test_no_import_cycle_among_the_runner_and_its_interfaces() -> None:
    cycles = import_cycles(LAYERS)
    assert not cycles, "import cycles:\n" + _show(cycles)
    # Nor one that leaves these modules and comes back through another part of the package.
    through = [c for c in import_cycles() if set(c) & set(LAYERS)]
    assert not through, "import cycles:\n" + _show(through)


def test_the_runner_imports_no_interface() -> None:
    found = imports_of("sim.experiment")
    bad = sorted(m for m in found if any(m == x or m.startswith(x + ".") for x in NOT_IN_RUNNER))
    assert not bad, f"sim.experiment imports {bad}"


def test_importing_the_runner_loads_no_interface() -> None:
    # Run beside the package, so that it is this source tree's `sim` that is imported.
    code = f"import sys, sim.experiment; print(*sorted(set(sys.modules) & {set(NOT_IN_RUNNER)!r}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=PACKAGE.parent)
    assert out.stdout.split() == [], f"importing sim.experiment loads {out.stdout.split()}"


def test_the_finder_sees_lazy_imports_and_skips_type_checking() -> None:
    tree = ast.parse("from typing import TYPE_CHECKING\n"
                     "if TYPE_CHECKING:\n    import sim.report\nelse:\n    import sim.cli\n"
                     "def f():\n    from sim import output\n")
    names = {a.name if isinstance(n, ast.Import) else f"{n.module}:{a.name}"
             for n in _runtime_imports(tree) for a in n.names}
    assert names == {"typing:TYPE_CHECKING", "sim.cli", "sim:output"}
    # sim.output: `from sim import report` (a module), `from sim import __version__` (the package),
    # `from sim.files import atomic_write` (a name in a module); `Result` only for type checking.
    found = imports_of("sim.output")
    assert {"sim.report", "sim", "sim.files"} <= found and "sim.result" not in found
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert [_cycle_through(graph, c) for c in _components(graph) if len(c) > 1] == [
        ["a", "b", "c", "a"]]


if __name__ == "__main__":
    every = import_cycles()
    print(_show(every) if every else "no import cycle in sim/")
    sys.exit(1 if every else 0)
