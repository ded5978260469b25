"""The public surface: exported names, CLI help for every command, docs mention each."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import grimp
import pytest

import llm_rollout
from llm_rollout.cli import COMMANDS, cli, main

ROOT = Path(__file__).resolve().parents[1]


def test_exported_names_exist_and_are_sorted() -> None:
    assert list(llm_rollout.__all__) == sorted(llm_rollout.__all__)
    for name in llm_rollout.__all__:
        assert hasattr(llm_rollout, name), name


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    command = cli.get_command(None, name)  # type: ignore[arg-type]
    assert command is not None
    assert (command.help or "").strip(), f"{name} has no help text"
    try:
        code = main([name, "--help"])
    except SystemExit as exc:
        code = exc.code
    assert code in (0, None)
    assert "Usage:" in capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_is_documented(name: str) -> None:
    docs = (ROOT / "docs" / "cli.md").read_text()
    assert f"llm-rollout {name}" in docs, f"docs/cli.md does not mention `llm-rollout {name}`"


def _packages() -> list[str]:
    src = ROOT / "src" / "llm_rollout"
    return sorted(
        "llm_rollout" + ("." + ".".join(p.parent.relative_to(src).parts) if p.parent != src else "")
        for p in src.rglob("__init__.py")
    )


@pytest.mark.parametrize("name", _packages())
def test_every_package_exports_only_its_own_public_names(name: str) -> None:
    package = importlib.import_module(name)
    exported = getattr(package, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    for item in exported:
        dunder = item.startswith("__") and item.endswith("__")  # e.g. __version__
        assert dunder or not item.startswith("_"), f"{name}.__all__ exports the private {item}"
        assert hasattr(package, item), f"{name}.__all__ names {item}, which does not exist"
        origin = getattr(getattr(package, item), "__module__", None)
        # A subpackage's classes and functions are its own: re-exporting another layer's
        # name would give one thing two public homes (the root package gathers the API).
        if name != "llm_rollout" and isinstance(origin, str) and origin.startswith("llm_rollout"):
            assert origin.startswith(name), f"{name}.__all__ re-exports {item} from {origin}"


@pytest.mark.parametrize("name", _packages())
def test_no_package_resolves_names_lazily(name: str) -> None:
    # A module-level __getattr__ in __init__ hides an import cycle instead of removing it.
    path = ROOT / "src" / Path(*name.split(".")) / "__init__.py"
    assert "def __getattr__" not in path.read_text(), f"{name} resolves names lazily"


def test_the_modules_import_no_cycle() -> None:
    graph = grimp.build_graph("llm_rollout", exclude_type_checking_imports=True)
    modules = sorted(graph.modules)
    index = {m: i for i, m in enumerate(modules)}
    edges = [
        [index[t] for t in graph.find_modules_directly_imported_by(m) if t in index]
        for m in modules
    ]
    cycles = [[modules[i] for i in c] for c in _strongly_connected(edges) if len(c) > 1]
    assert cycles == []


def _strongly_connected(edges: list[list[int]]) -> list[list[int]]:
    """Tarjan's algorithm, iterative (the import graph is deep enough to matter)."""
    order, low, on_stack, stack, out = {}, {}, set(), [], []
    for root in range(len(edges)):
        if root in order:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                order[node] = low[node] = len(order)
                stack.append(node)
                on_stack.add(node)
            if i < len(edges[node]):
                work.append((node, i + 1))
                nxt = edges[node][i]
                if nxt not in order:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], order[nxt])
                continue
            if low[node] == order[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                out.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return out


def test_every_top_level_module_has_a_layer() -> None:
    # A module missing from the layers contract is a module lint-imports never checks.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["id"] == "layers")["layers"]
    listed = {name.strip() for layer in layers for name in layer.split("|")}
    src = ROOT / "src" / "llm_rollout"
    present = {p.stem for p in src.glob("*.py") if p.stem != "__init__"}
    present |= {p.parent.name for p in src.glob("*/__init__.py")}
    assert present == listed


def test_test_files_follow_one_layout() -> None:
    # tests/<package>/ holds conftest.py (fixtures), <package>_helpers.py (importable helpers)
    # and test_<package>_<module>.py files: basenames stay unique across folders, which
    # pytest's default import mode needs, and a module's tests are found by its name.
    strays = []
    for path in (ROOT / "tests").rglob("*.py"):
        folder = path.parent.name
        if path.parent == ROOT / "tests":
            allowed = path.name.startswith("test_")
        else:
            allowed = path.name in {"conftest.py", f"{folder}_helpers.py"} or (
                path.name.startswith(f"test_{folder}_")
            )
        if not allowed:
            strays.append(str(path.relative_to(ROOT)))
    assert strays == []
