"""The engine's architecture, checked: layers import downwards only, no cycles, no torch where none belongs,
and the per-epoch metric names written out in one module."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRAINING = ROOT / "training"

# Each layer and the layers it may import (besides itself). training/__init__.py imports nothing.
ALLOWED = {
    "core": set(),
    "run": {"core", "metrics"},
    "metrics": {"core"},
    "data": {"core"},
    "models": {"core"},
    "engine": {"core", "run", "metrics", "data", "models"},
    "evaluation": {"core", "run", "metrics", "data", "models", "engine"},
    "experiments": {"core", "run", "metrics", "data", "models", "engine", "evaluation"},
}
NO_TORCH = ("run", "metrics")
NEVER_IN_TRAINING = ("pneumo_tui", "textual", "typer")


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(root: Path = ROOT) -> dict[str, Path]:
    return {module_name(p, root): p for p in sorted((root / "training").rglob("*.py"))}


def imports_of(name: str, path: Path) -> list[tuple[str, int]]:
    """(imported module, line) for every import statement, at module level or inside functions."""
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            found.append((target, node.lineno))
            # ``from training.engine import distributed`` imports a module, not a name
            found += [(f"{target}.{alias.name}", node.lineno) for alias in node.names]
    return found


def internal_graph(root: Path = ROOT) -> dict[str, set[str]]:
    mods = modules(root)
    graph = {}
    for name, path in mods.items():
        graph[name] = {target for target, _ in imports_of(name, path) if target in mods and target != name}
    return graph


def layer(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else None


def upward_imports(root: Path = ROOT) -> list[str]:
    wrong = []
    for name, targets in internal_graph(root).items():
        mine = layer(name)
        for target in targets:
            theirs = layer(target)
            if theirs is None or theirs == mine:
                continue
            if mine is None or theirs not in ALLOWED[mine]:
                wrong.append(f"{name} imports {target}")
    return sorted(wrong)


def import_cycles(root: Path = ROOT) -> list[str]:
    graph = internal_graph(root)
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return cycles


def forbidden_imports(root: Path = ROOT) -> list[str]:
    wrong = []
    for name, path in modules(root).items():
        for target, line in imports_of(name, path):
            top = (target or "").split(".")[0]
            if layer(name) in NO_TORCH and top in ("torch", "torchvision"):
                wrong.append(f"{path.relative_to(root)}:{line} imports {target}")
            if top in NEVER_IN_TRAINING:
                wrong.append(f"{path.relative_to(root)}:{line} imports {target}")
    return wrong


def test_layers_import_downwards_only():
    assert upward_imports() == []


def test_no_import_cycles_function_level_imports_included():
    assert import_cycles() == []


def test_no_torch_in_run_or_metrics_and_no_app_in_the_engine():
    assert forbidden_imports() == []


def test_the_checks_catch_what_they_are_for(tmp_path):
    files = {
        "training/__init__.py": "",
        "training/run/__init__.py": "",
        "training/run/a.py": "import torch\nfrom training.engine import b\n",
        "training/engine/__init__.py": "",
        "training/engine/b.py": "def f():\n    from training.engine import c\n",
        "training/engine/c.py": "from . import b\nimport textual\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert upward_imports(tmp_path) == ["training.run.a imports training.engine",
                                        "training.run.a imports training.engine.b"]
    assert import_cycles(tmp_path) == ["training.engine.b -> training.engine.c -> training.engine.b"]
    assert forbidden_imports(tmp_path) == ["training/engine/c.py:2 imports textual",
                                           "training/run/a.py:1 imports torch"]


def _strings_outside_docstrings(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(), str(path))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [(n.value, n.lineno) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings]


def test_per_epoch_metric_names_are_written_out_in_one_module():
    from training.run.schema import EPOCH_METRICS

    pattern = re.compile(r"\b(" + "|".join(re.escape(m.name) for m in EPOCH_METRICS) + r")\b")
    writers = set()
    for path in sorted([*TRAINING.rglob("*.py"), *(ROOT / "pneumo_tui").rglob("*.py")]):
        if any(pattern.search(text) for text, _ in _strings_outside_docstrings(path)):
            writers.add(str(path.relative_to(ROOT)))
    assert writers == {"training/run/schema.py"}


def test_every_rich_table_of_the_cli_and_the_app_is_a_plain_table():
    # A str cell of a Rich Table is read as markup: a run or model name such as "cnn3[/]" from disk crashed
    # `pneumo runs` and the app. Only pneumo_tui/plain.py may build a rich.table.Table; the rest use PlainTable.
    offenders = []
    for path in sorted((ROOT / "pneumo_tui").rglob("*.py")):
        if path.name == "plain.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "rich.table":
                offenders += [f"{path.relative_to(ROOT)}:{node.lineno}" for a in node.names if a.name == "Table"]
    assert offenders == []
