"""Render the email templates into plain-text and HTML bodies."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from jobs.errors import PermanentJobError

TEMPLATES_DIR = Path(__file__).parent / "templates"
_TEXT, _HTML = ".txt.j2", ".html.j2"
_UNDEFINED_NAME = re.compile(r"^'(?P<name>[^']+)' is undefined$")


@dataclass(frozen=True)
class RenderedBody:
    text: str
    html: str


@functools.cache
def template_names() -> frozenset[str]:
    """Names of the templates a job can choose: those with both a text and an HTML part."""
    files = {p.name for p in TEMPLATES_DIR.iterdir() if p.is_file()}
    return frozenset(
        f.removesuffix(_TEXT)
        for f in files
        if f.endswith(_TEXT) and not f.startswith("_") and f.removesuffix(_TEXT) + _HTML in files
    )


@functools.cache
def environment() -> SandboxedEnvironment:
    """The one sandboxed Jinja environment that all templates are rendered with."""
    return SandboxedEnvironment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        undefined=StrictUndefined,
        autoescape=lambda name: name is not None and name.endswith(_HTML),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(template: str, context: Mapping[str, Any]) -> RenderedBody:
    """Render both parts of `template`; any failure is a PermanentJobError."""
    names = template_names()
    if template not in names:
        known = ", ".join(sorted(names))
        raise PermanentJobError(f"unknown template {template!r}; expected one of: {known}")
    env, values = environment(), dict(context)
    try:
        text = env.get_template(template + _TEXT).render(values)
        html = env.get_template(template + _HTML).render(values)
    except UndefinedError as exc:
        match = _UNDEFINED_NAME.match(str(exc))
        if match:
            detail = f"needs variable {match['name']!r}, which the context does not have"
        else:
            detail = f"uses a value the context does not have: {exc}"
        raise PermanentJobError(f"template {template!r} {detail}") from exc
    except SecurityError as exc:
        raise PermanentJobError(f"template {template!r} was blocked by the sandbox: {exc}") from exc
    except TemplateError as exc:
        raise PermanentJobError(f"template {template!r} could not be rendered: {exc}") from exc
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise PermanentJobError(f"template {template!r} could not be rendered: {exc!r}") from exc
    return RenderedBody(text=text, html=html)


def check(template: str, context: Mapping[str, Any]) -> None:
    """Render as a validation step, raising ValueError (for pydantic validators) on failure."""
    try:
        render(template, context)
    except PermanentJobError as exc:
        raise ValueError(str(exc)) from exc
