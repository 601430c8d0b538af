"""Route precedence (spec §4.1) and the import contract between the three sides."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from kernel.routing import Dispatcher, RouteSpec

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


async def _noop(_call: object) -> None:  # pragma: no cover - never awaited
    return None


def names(dispatcher: Dispatcher, method: str, path: str) -> str | None:
    found = dispatcher.find(method, path)
    return found[0].path if found else None


def test_literal_segments_win_over_parameters() -> None:
    routes = [RouteSpec("GET", p, _noop, "x") for p in (  # type: ignore[arg-type]
        "/api/v1/memories/{id}", "/api/v1/memories/search", "/api/v1/claims/{id}",
        "/api/v1/claims/subject/{subjectId}/truth")]
    dispatcher = Dispatcher(routes, "default-project")
    assert names(dispatcher, "GET", "/api/v1/memories/search") == "/api/v1/memories/search"
    assert names(dispatcher, "GET", "/api/v1/memories/extract") == "/api/v1/memories/{id}"
    assert names(dispatcher, "GET", "/api/v1/claims/subject") == "/api/v1/claims/{id}"
    assert names(dispatcher, "POST", "/api/v1/memories/search") is None
    assert names(dispatcher, "GET", "/api/v1/memories/search/") is None


def test_path_segments_are_percent_decoded() -> None:
    dispatcher = Dispatcher([RouteSpec("GET", "/m/{id}", _noop, "x")], "p")  # type: ignore[arg-type]
    assert dispatcher.find("GET", "/m/a%20b")[1] == {"id": "a b"}  # type: ignore[index]
    assert dispatcher.find("GET", "/m/%E0%A4%A")[1] == {"id": "%E0%A4%A"}  # type: ignore[index]


@pytest.mark.parametrize("side", ["commands", "projections", "queries"])
def test_sides_never_import_each_other(side: str) -> None:
    others = {"commands", "projections", "queries"} - {side}
    for path in (ROOT / side).rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for module in modules:
                assert module.split(".")[0] not in others, f"{path} imports {module}"


def test_first_value_of_a_repeated_query_key_counts() -> None:
    from kernel.routing import keep_first_values

    scope: dict[str, object] = {"query_string": b"limit=5&q=a&limit=9&context=x&context=y"}
    keep_first_values(scope)
    assert scope["query_string"] == b"limit=5&q=a&context=x&context=y"
