"""The NDJSON reader of the batch routes: lines as they arrive, over-long ones dropped."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.batch_routes import ndjson_lines

pytestmark = pytest.mark.unit


async def lines_of(chunks: list[bytes], max_line: int = 10) -> list[bytes | None]:
    async def stream() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    return [line async for line in ndjson_lines(stream(), max_line)]


async def test_lines_split_across_chunks_and_blank_lines_skipped() -> None:
    assert await lines_of([b'{"a"', b':1}\n\n  \n{"b":2}\r\n', b'{"c"', b":3}"]) == [
        b'{"a":1}', b'{"b":2}\r', b'{"c":3}']


async def test_an_over_long_line_is_none_and_the_next_lines_still_come() -> None:
    assert await lines_of([b"0123456789", b"X\nok\n", b"y" * 30]) == [None, b"ok", None]
    assert await lines_of([b"0123456789\n"]) == [b"0123456789"]
