"""The package layering of docs/architecture.md, read from the source with ``ast``: who may
import whom, and no source file too long to read as one concept."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Which project packages each package may import (besides itself). records/ is the ground
# floor, importing nothing of the project; config/ may use it and nothing else; the web
# package chatd/ sits on top and nothing below imports it. bench/ and tests/ are tools, not
# layers: they may import anything.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "records": frozenset(),
    "config": frozenset({"records"}),
    "peers": frozenset({"records", "config"}),
    "routing": frozenset({"records", "config"}),
    "sms": frozenset({"records", "config", "routing"}),
    "chatd": frozenset({"records", "config", "peers", "routing", "sms"}),
}
TOOLS = ("bench", "tests")
PROJECT = frozenset(MAY_IMPORT) | frozenset(TOOLS)

MAX_LINES = 600
SOURCE_SUFFIXES = (".py", ".js", ".lua")


def _imports(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, dotted module) of every import in the file, at any depth (lazy imports inside
    functions and ``if TYPE_CHECKING:`` blocks count too); relative imports resolved."""
    package = ".".join(path.relative_to(root).parent.parts)
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - node.level + 1]
                names = [node.module] if node.module else [alias.name for alias in node.names]
                found += [(node.lineno, ".".join([*base, name])) for name in names]
            elif node.module:
                found.append((node.lineno, node.module))
    return found


def _violations(package: str, allowed: frozenset[str], root: Path = ROOT) -> list[str]:
    out = []
    for path in sorted((root / package).rglob("*.py")):
        for line, module in _imports(path, root):
            top = module.split(".")[0]
            if top in PROJECT and top != package and top not in allowed:
                out.append(f"{path.relative_to(root)}:{line} imports {module}")
    return out


def test_every_package_has_a_place_in_the_layering() -> None:
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - set(TOOLS)
    assert packages == set(MAY_IMPORT)


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_package_imports_only_the_layers_below_it(package: str) -> None:
    """records/ nothing of the project; config/ at most records/; peers/ and routing/ records/
    and config/; sms/ those and routing/; and nothing but chatd/ itself imports chatd."""
    assert _violations(package, MAY_IMPORT[package]) == []


def test_the_import_check_sees_lazy_and_type_checking_imports(tmp_path: Path) -> None:
    """The parser is not fooled by an import inside a function or under TYPE_CHECKING."""
    (tmp_path / "records").mkdir()
    (tmp_path / "records" / "probe.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from chatd.app import X\n"
        "def f():\n    import routing.engine\n    from . import keyspace\n    from .. import sms\n", encoding="utf-8")
    assert _violations("records", MAY_IMPORT["records"], tmp_path) == [
        "records/probe.py:3 imports chatd.app",
        "records/probe.py:5 imports routing.engine",
        "records/probe.py:7 imports sms",
    ]


def _source_files() -> list[Path]:
    skip = {".venv", ".git", "tests", "node_modules"}
    return sorted(p for p in ROOT.rglob("*") if p.suffix in SOURCE_SUFFIXES and p.is_file()
                  and not skip & set(p.relative_to(ROOT).parts))


def test_no_source_file_is_over_600_lines() -> None:
    lengths = {str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines()) for p in _source_files()}
    assert "routing/_lib.lua" in lengths and "chatd/app.py" in lengths  # the walk sees Lua and Python
    too_long = {name: n for name, n in lengths.items() if n > MAX_LINES}
    assert too_long == {}
