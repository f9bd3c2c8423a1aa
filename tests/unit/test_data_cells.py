"""Formula injection: spreadsheet cells that would run as formulas are neutralised."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest

from jobs.data.cells import excel_value, neutralise

NAIVE_TEN_UTC = datetime(2024, 6, 1, 10, tzinfo=UTC).replace(tzinfo=None)


@pytest.mark.parametrize(
    "text",
    ['=HYPERLINK("http://x")', "+1+2", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "=", "-"],
)
def test_text_a_spreadsheet_would_evaluate_gets_a_leading_quote(text: str) -> None:
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("text", ["Ada Lovelace", "", "a=b", "1-2", " =1", "'quoted"])
def test_other_text_is_left_alone(text: str) -> None:
    assert neutralise(text) == text


def test_excel_values_are_safe_and_storable() -> None:
    aware = datetime(2024, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))

    assert excel_value("=1+1") == "'=1+1"
    assert excel_value("bell\x07 and null\x00") == "bell and null"
    assert excel_value(aware) == NAIVE_TEN_UTC
    assert excel_value(datetime(2024, 6, 1, 10, 0, tzinfo=UTC)).tzinfo is None
    assert excel_value(math.nan) is None
    assert excel_value(None) is None
    assert excel_value(42) == 42


def test_missing_pandas_timestamps_become_empty_cells() -> None:
    import pandas as pd

    assert excel_value(pd.NaT) is None
    assert excel_value(pd.Timestamp("2024-06-01 10:00", tz="UTC")) == NAIVE_TEN_UTC
