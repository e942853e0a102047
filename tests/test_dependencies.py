"""Every package that training/ and pneumo_tui/ import is declared in pyproject.toml."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OPTIONAL_EXTRAS = ("dicom", "gpu")  # imported only where that extra is needed, with a message when absent
# Modules whose distribution has another name, for when it is not installed here (no GPU: no nvidia-ml-py).
MODULE_DISTRIBUTIONS = {"pynvml": "nvidia-ml-py"}


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def third_party_imports() -> dict[str, str]:
    """{top-level module: a file importing it}, module level and inside functions."""
    found = {}
    for package in ("training", "pneumo_tui"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in ("training", "pneumo_tui"):
                        found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def test_every_imported_package_is_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_name(r) for r in project["dependencies"]}
    declared |= {_name(r) for extra in OPTIONAL_EXTRAS for r in project["optional-dependencies"][extra]}
    distributions = packages_distributions()
    missing = []
    for module, where in sorted(third_party_imports().items()):
        names = {_name(d) for d in distributions.get(module, [MODULE_DISTRIBUTIONS.get(module, module)])}
        if not names & declared:
            missing.append(f"{module} (imported by {where}; distribution {', '.join(sorted(names))})")
    assert not missing, "undeclared in pyproject.toml [project] dependencies: " + "; ".join(missing)
