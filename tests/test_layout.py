"""The package layout: no import cycles (static, imports inside functions included), short modules, no shims."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ips_agents", "ips_envs")
MAX_LINES = 600
"""A module longer than this states why in its docstring (a line starting 'Longer than')."""


def _module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    """Every module of the two packages, by dotted name."""
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The project module an imported name lives in (``a.b.C`` -> ``a.b``), or None outside the project."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the project modules it imports anywhere in its body (functions and classes included)."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps: set[str] = set()
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [f"{base}.{a.name}" for a in node.names]
            for target in targets:
                found = _resolve(target, modules)
                if found is not None and found != name:
                    deps.add(found)
        graph[name] = deps
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep):], dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import(tmp_path):
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "x.py").write_text("def f():\n    from pkg.y import g\n")
    (pkg / "y.py").write_text("import pkg.x\n")
    modules = {_module_name(p, tmp_path): p for p in sorted(pkg.rglob("*.py"))}
    assert find_cycle(import_graph(modules)) == ["pkg.x", "pkg.y", "pkg.x"]


def test_no_import_cycles_among_the_project_modules():
    cycle = find_cycle(import_graph(project_modules()))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_layers_import_downwards_only():
    """cli -> runs -> algorithms -> {sampling, estimators, policies} -> ips_envs; the core never imports an integration."""
    graph = import_graph(project_modules())
    order = ["ips_agents.cli", "ips_agents.runs", "ips_agents.algorithms", "ips_agents.sampling",
             "ips_agents.policies", "ips_agents.estimators"]

    def layer(module: str) -> int | None:
        for i, prefix in enumerate(order):
            if module == prefix or module.startswith(prefix + "."):
                return i
        return None

    for module, deps in graph.items():
        if module.startswith("ips_envs"):
            assert not [d for d in deps if d.startswith("ips_agents")], f"{module} imports ips_agents"
        mine = layer(module)
        for dep in deps:
            if dep.startswith("ips_agents.integrations") and mine is not None and mine > 0:
                raise AssertionError(f"core module {module} imports the integration {dep}")
            theirs = layer(dep)
            if mine is not None and theirs is not None and theirs < mine:
                raise AssertionError(f"{module} (a lower layer) imports {dep} (a higher one)")


@pytest.mark.parametrize("name", sorted(project_modules()))
def test_modules_are_short_or_say_why(name):
    path = project_modules()[name]
    text = path.read_text(encoding="utf-8")
    n_lines = len(text.splitlines())
    if n_lines > MAX_LINES:
        doc = ast.get_docstring(ast.parse(text)) or ""
        assert any(line.startswith("Longer than") for line in doc.splitlines()), \
            f"{path.relative_to(ROOT)} has {n_lines} lines (> {MAX_LINES}) and its docstring does not say why"


def test_the_flat_floor_is_gone():
    agents = {p.stem for p in (ROOT / "ips_agents").glob("*.py")}
    assert agents <= {"__init__", "estimators", "evaluation", "plots", "trl"}, sorted(agents)
    for package in ("algorithms", "sampling", "policies", "runs", "cli", "molecules", "integrations"):
        assert (ROOT / "ips_agents" / package / "__init__.py").is_file(), package
