"""House rules that keep the code base in shape, checked on the source itself.

The layering and "only engine.library speaks SQL" (no sqlite3 import
elsewhere) are import-linter contracts in pyproject.toml; these tests catch
what an import graph cannot see.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ["engine", "sync", "ui", "main.py"]
MAX_FUNCTION_LINES = 80
# Functions that are data tables, not logic.
DATA_TABLES = {("engine/library/schema.py", "_v1")}


def _sources(*tops: str) -> list[Path]:
    out: list[Path] = []
    for top in tops:
        path = ROOT / top
        out += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return out


def _tree(path: Path) -> ast.AST:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_no_function_is_over_80_lines():
    long = []
    for path in _sources(*PRODUCT, "tests", "packaging"):
        rel = path.relative_to(ROOT).as_posix()
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES and (rel, node.name) not in DATA_TABLES:
                    long.append(f"{rel}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, "functions over 80 lines:\n" + "\n".join(long)


def test_no_code_outside_the_library_reaches_its_database():
    """library.conn / library.db and cursor calls belong to engine/library."""
    found = []
    for path in _sources(*PRODUCT):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("engine/library/"):
            continue
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.Attribute) and node.attr in ("conn", "db", "transaction",
                                                                 "execute", "executemany"):
                found.append(f"{rel}:{node.lineno} .{node.attr}")
    assert not found, "database access outside engine/library:\n" + "\n".join(found)
