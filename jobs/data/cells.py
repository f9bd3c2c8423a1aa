"""Cell values safe for spreadsheets: no formula injection, no characters Excel refuses."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # what openpyxl refuses to store


def neutralise(text: str) -> str:
    """``text`` with a leading ``'`` when a spreadsheet would read it as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def excel_value(value: Any) -> Any:
    """A value openpyxl can store: text neutralised, datetimes naive UTC, missing as None."""
    if isinstance(value, str):
        return neutralise(_ILLEGAL.sub("", value))
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, datetime):
        if value != value:  # NaT
            return None
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    return value
