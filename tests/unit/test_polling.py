"""The tests' polling helpers: they wait for a check to come true, or say what never happened."""

from __future__ import annotations

import pytest

from tests.support.polling import until, wait_until


def test_wait_until_returns_once_the_check_is_true() -> None:
    calls: list[int] = []

    def check() -> bool:
        calls.append(len(calls) + 1)
        return len(calls) >= 3

    wait_until(check, 60, "the third call")

    assert calls == [1, 2, 3]


def test_wait_until_says_what_never_happened() -> None:
    seen = ["nothing yet"]

    with pytest.raises(AssertionError, match=r"^not so after 0 s: the run is final$"):
        wait_until(lambda: False, 0, "the run is final")
    with pytest.raises(AssertionError, match=r": the run is final; it is nothing yet$"):
        wait_until(lambda: False, 0, lambda: f"the run is final; it is {seen[-1]}")


async def test_until_returns_once_the_check_is_true() -> None:
    calls: list[int] = []

    async def check() -> bool:
        calls.append(len(calls) + 1)
        return len(calls) >= 3

    await until(check, 60, "the third call")

    assert calls == [1, 2, 3]


async def test_until_says_what_never_happened() -> None:
    async def never() -> bool:
        return False

    with pytest.raises(AssertionError, match=r"^not so after 0 s: logs are gone$"):
        await until(never, 0, "logs are gone")
    with pytest.raises(AssertionError, match=r": logs are gone; 2 left$"):
        await until(never, 0, lambda: "logs are gone; 2 left")
