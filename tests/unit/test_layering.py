"""Imports point down: schemas → kernel → commands/projections/queries → composition root."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.layering import FLOORS, check_tree

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def test_the_product_tree_keeps_the_import_contract() -> None:
    assert check_tree(ROOT) == []


def test_the_kernel_is_at_most_about_a_third_of_the_product() -> None:
    def lines(package: str) -> int:
        return sum(len(p.read_text().splitlines()) for p in (ROOT / package).rglob("*.py"))

    assert lines("kernel") <= 0.36 * sum(lines(p) for p in FLOORS)


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for package in FLOORS:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    for name, source in files.items():
        (tmp_path / name).write_text(source)
    return tmp_path


def test_a_clean_tree_passes(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"core/app.py": "from commands import x\nfrom kernel import y\n",
                            "commands/x.py": "from kernel.y import z\nfrom schemas import e\n",
                            "kernel/y.py": "import schemas.e\n", "schemas/e.py": ""})
    assert check_tree(root) == []


@pytest.mark.parametrize(("name", "source", "rule"), [
    ("schemas/e.py", "from kernel import y\n", "schemas may not import kernel"),
    ("kernel/y.py", "from queries import q\n", "kernel may not import queries"),
    ("kernel/y.py", "def f():\n    from core import app\n", "kernel may not import core"),
    ("commands/x.py", "import projections.p\n", "commands may not import projections"),
    ("queries/q.py", "from commands.x import handler\n", "queries may not import commands"),
    ("projections/p.py", "from core.app import build\n", "projections may not import core"),
])
def test_each_upward_or_sideways_import_is_reported(tmp_path: Path, name: str, source: str,
                                                    rule: str) -> None:
    root = _tree(tmp_path, {name: source})
    assert any(rule in problem for problem in check_tree(root))


def test_an_import_cycle_inside_a_package_is_reported(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"core/a.py": "from core.b import x\n",
                            "core/b.py": "def f():\n    from . import a\n"})
    assert check_tree(root) == ["import cycle: core.a -> core.b"]
