"""Query and body helpers of spec §4.4–4.5 with CORE's decisions (§15 Q1, Q2)."""

from __future__ import annotations

import math
import time

import pytest

from kernel.http import (
    InvalidBody,
    bool_param,
    coerce_required_str,
    int_param,
    js_number,
    parse_body,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("raw", "expected"), [
    (None, 50), ("", 1), (" 10 ", 10), ("1e2", 100), ("0x10", 16), ("2.7", 2), ("abc", 50),
    ("Infinity", 50), ("-5", 1), ("999", 200), ("0", 1),
])
def test_int_param(raw: str | None, expected: int) -> None:
    assert int_param(raw, 50, 1, 200) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    (None, True), ("true", True), ("TRUE", True), ("1", False), ("yes", False), ("", False),
])
def test_bool_param(raw: str | None, expected: bool) -> None:
    assert bool_param(raw, True) is expected


@pytest.mark.parametrize("raw", [b"{bad", b"null", b"false", b"0", b'""', b"0.0"])
def test_invalid_or_falsy_bodies(raw: bytes) -> None:
    with pytest.raises(InvalidBody):
        parse_body(raw)


@pytest.mark.parametrize(("raw", "expected"), [
    (b"", {}), (b"  \n", {}), (b"[]", []), (b"{}", {}), (b"123", 123), (b'"x"', "x"),
])
def test_accepted_bodies(raw: bytes, expected: object) -> None:
    assert parse_body(raw) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (42, "42"), (0, ""), (False, ""), (None, ""), ("  a  ", "a"), (1.0, "1"), (True, "true"),
])
def test_required_string_coercion(value: object, expected: str) -> None:
    assert coerce_required_str(value) == expected


@pytest.mark.parametrize("raw", [
    "99999999999999999999", "1e400", "0x" + "f" * 300, "-1e400", "1" * 400,
])
def test_int_param_is_total_on_out_of_range_numbers(raw: str) -> None:
    assert int_param(raw, 50, 1, 200) in (1, 50, 200)
    assert int_param("99999999999999999999", 50, 1, 200) == 200
    assert int_param("1e400", 0, 0, 1_000_000) == 0  # not finite: the fallback


def test_js_number_is_linear_on_a_long_digit_run() -> None:
    started = time.perf_counter()
    assert math.isnan(js_number("1" * 100_000 + "x"))
    assert js_number("0x" + "f" * 300) == math.inf
    assert time.perf_counter() - started < 2.0  # the old pattern backtracked quadratically
