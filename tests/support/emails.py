"""Email job parameters for tests: a unique recipient per test, a welcome message to it."""

from __future__ import annotations

import uuid
from typing import Any


def welcome(address: str, **extra: Any) -> dict[str, Any]:
    return {
        "to": [address],
        "subject": "Welcome aboard",
        "template": "welcome",
        "context": {"name": "Ada", "app_name": "Jobs"},
        **extra,
    }


def unique_address() -> str:
    return f"user-{uuid.uuid4().hex[:10]}@example.com"
