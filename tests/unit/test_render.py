"""Rendering of the email templates."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import jinja2.exceptions
import jinja2.sandbox
import pytest

from jobs.email import render
from jobs.errors import PermanentJobError

SAMPLES: dict[str, tuple[dict[str, Any], list[str]]] = {
    "welcome": (
        {"name": "Ada", "app_name": "Acme Cloud"},
        ["Ada", "Acme Cloud"],
    ),
    "password_reset": (
        {"name": "Ada", "reset_url": "https://example.com/reset/abc123", "expires_in_minutes": 30},
        ["Ada", "https://example.com/reset/abc123", "30 minutes"],
    ),
    "order_confirmation": (
        {
            "name": "Ada",
            "order_id": "ORD-1042",
            "items": [
                {"name": "Coffee mug", "quantity": 2, "price": Decimal("9.5")},
                {"name": "Green tea", "quantity": 1, "price": 4},
            ],
            "total": Decimal("23"),
            "currency": "EUR",
        },
        ["Ada", "ORD-1042", "Coffee mug", "Green tea", "9.50 EUR", "4.00 EUR", "23.00 EUR"],
    ),
    "newsletter": (
        {
            "name": "Ada",
            "headline": "Spring release",
            "body_paragraphs": ["Faster queues.", "New dashboard."],
            "unsubscribe_url": "https://example.com/unsubscribe/xyz",
        },
        ["Ada", "Spring release", "Faster queues.", "New dashboard.", "/unsubscribe/xyz"],
    ),
    "reminder": (
        {"name": "Ada", "what": "Quarterly report", "due_at": "2025-04-01 09:00 UTC"},
        ["Ada", "Quarterly report", "2025-04-01 09:00 UTC"],
    ),
}


def test_template_names_are_exactly_the_five_templates() -> None:
    assert render.template_names() == frozenset(SAMPLES)


@pytest.mark.parametrize("template", sorted(SAMPLES))
def test_each_template_renders_text_and_html(template: str) -> None:
    context, expected = SAMPLES[template]
    body = render.render(template, context)
    assert isinstance(body, render.RenderedBody)
    for value in expected:
        assert value in body.text
        assert value in body.html
    assert body.html.lstrip().startswith("<!DOCTYPE html>")
    assert "<html" not in body.text
    assert "{{" not in body.text and "{{" not in body.html


def test_html_escapes_context_values_and_text_does_not() -> None:
    body = render.render("welcome", {"name": "<script>alert(1)</script>", "app_name": "Acme"})
    assert "<script>" not in body.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body.html
    assert "<script>alert(1)</script>" in body.text


def test_missing_variable_names_it() -> None:
    with pytest.raises(PermanentJobError) as info:
        render.render("password_reset", {"name": "Ada", "expires_in_minutes": 30})
    message = str(info.value)
    assert "'password_reset'" in message
    assert "'reset_url'" in message
    assert isinstance(info.value.__cause__, jinja2.exceptions.UndefinedError)


def test_missing_nested_value_is_permanent() -> None:
    context = {**SAMPLES["order_confirmation"][0], "items": [{"name": "Mug", "quantity": 1}]}
    with pytest.raises(PermanentJobError, match=r"'order_confirmation'.*no attribute 'price'"):
        render.render("order_confirmation", context)


def test_unknown_template_lists_known_names() -> None:
    with pytest.raises(PermanentJobError) as info:
        render.render("nope", {})
    message = str(info.value)
    assert "'nope'" in message
    assert "newsletter, order_confirmation, password_reset, reminder, welcome" in message


def test_base_layout_is_not_selectable() -> None:
    with pytest.raises(PermanentJobError, match="unknown template '_base'"):
        render.render("_base", {})


def test_sandbox_blocks_unsafe_expression() -> None:
    template = render.environment().from_string("{{ ''.__class__.__mro__ }}")
    with pytest.raises(jinja2.exceptions.SecurityError):
        template.render()


def test_environment_is_cached_and_sandboxed() -> None:
    env = render.environment()
    assert env is render.environment()
    assert isinstance(env, jinja2.sandbox.SandboxedEnvironment)


def test_check_passes_for_good_context() -> None:
    context, _ = SAMPLES["welcome"]
    render.check("welcome", context)


def test_check_raises_value_error() -> None:
    with pytest.raises(ValueError, match="needs variable 'app_name'") as info:
        render.check("welcome", {"name": "Ada"})
    assert not isinstance(info.value, PermanentJobError)
    with pytest.raises(ValueError, match="unknown template 'nope'"):
        render.check("nope", {})
