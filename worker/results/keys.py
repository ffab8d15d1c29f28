"""Deterministic object keys for results and manifests, from a template.

Placeholders: ``{schedule}`` (the schedule's name), ``{schedule_id}``, ``{scheduled_for}``
(``20261126T100000Z``), ``{run_id}``, ``{kind}``, ``{index}``, ``{params_hash}`` and ``{param.NAME}``
(a parameter's value). Every value is sanitised (characters outside ``A-Za-z0-9._=-`` become ``_``), so
a value can never add a folder level; the rendered key never starts with ``/`` and holds no ``.`` or
``..`` segment. The same inputs always give the same key, so a retry overwrites its earlier result.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from app.models import Invocation, Run, Schedule
from app.settings import get_settings

RUN_PLACEHOLDERS = frozenset({"schedule", "schedule_id", "scheduled_for", "run_id", "kind"})
INVOCATION_PLACEHOLDERS = frozenset({"index", "params_hash"})
MANIFEST_NAME = "manifest.json"
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_UNSAFE = re.compile(r"[^A-Za-z0-9._=-]")
_MAX_VALUE_CHARS = 200


class KeyTemplateError(ValueError):
    """Raised when a key template names an unknown placeholder or renders to an unsafe key."""


def _placeholders(template: str) -> list[str]:
    return _PLACEHOLDER.findall(template)


def validate_key_template(template: str) -> None:
    """Raise KeyTemplateError if ``template`` has an unknown placeholder, braces out of place, or
    literal ``.``/``..`` segments."""
    if not template.strip():
        raise KeyTemplateError("key template is empty")
    for name in _placeholders(template):
        if name in RUN_PLACEHOLDERS or name in INVOCATION_PLACEHOLDERS:
            continue
        if name.startswith("param.") and len(name) > len("param."):
            continue
        raise KeyTemplateError(f"key template: unknown placeholder {{{name}}}")
    if "{" in _PLACEHOLDER.sub("", template) or "}" in _PLACEHOLDER.sub("", template):
        raise KeyTemplateError("key template: unbalanced brace")
    literal = _PLACEHOLDER.sub("x", template)
    if any(part in {".", ".."} for part in literal.split("/")):
        raise KeyTemplateError("key template: '.' and '..' segments are not allowed")


def sanitise_value(value: Any) -> str:
    """One placeholder's value as a safe key fragment (never empty, never '.' or '..')."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    else:
        text = str(value)
    text = _UNSAFE.sub("_", text)[:_MAX_VALUE_CHARS]
    if text in {"", ".", ".."}:
        text = text.replace(".", "_") or "_"
    return text


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def render_key(template: str, values: Mapping[str, Any], params: Mapping[str, Any] | None = None) -> str:
    """Fill ``template``; raise KeyTemplateError for a placeholder with no value."""
    validate_key_template(template)

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("param."):
            key = name[len("param.") :]
            if params is None or key not in params:
                raise KeyTemplateError(f"key template: no parameter {key!r} for {{{name}}}")
            return sanitise_value(params[key])
        if name not in values:
            raise KeyTemplateError(f"key template: {{{name}}} has no value here")
        return sanitise_value(values[name])

    rendered = _PLACEHOLDER.sub(fill, template)
    parts = [p for p in rendered.split("/") if p]
    if not parts or any(p in {".", ".."} for p in parts):
        raise KeyTemplateError("key template renders to an unsafe key")
    return "/".join(parts)


def run_values(schedule: Schedule, run: Run) -> dict[str, Any]:
    return {
        "schedule": schedule.name,
        "schedule_id": schedule.id,
        "scheduled_for": format_time(run.scheduled_for),
        "run_id": run.id,
        "kind": run.kind.value if hasattr(run.kind, "value") else run.kind,
    }


def result_key(schedule: Schedule, run: Run, invocation: Invocation, template: str | None = None) -> str:
    """The key of an invocation's result (``settings.result_key_template`` unless ``template``)."""
    values = run_values(schedule, run)
    values.update(index=invocation.index, params_hash=invocation.params_hash)
    return render_key(template or get_settings().result_key_template, values, invocation.params)


def manifest_key(schedule: Schedule, run: Run, template: str | None = None) -> str:
    """The key of a run's manifest: ``manifest.json`` in the folder of the result keys when that folder
    depends on the run alone, else ``{schedule}/{scheduled_for}/manifest.json``."""
    template = template or get_settings().result_key_template
    folder = template.rsplit("/", 1)[0] if "/" in template else ""
    if any(name not in RUN_PLACEHOLDERS for name in _placeholders(folder)):
        folder = "{schedule}/{scheduled_for}"
    full = f"{folder}/{MANIFEST_NAME}" if folder else MANIFEST_NAME
    return render_key(full, run_values(schedule, run))


def join_key(prefix: str, key: str) -> str:
    """``prefix/key`` with no empty, leading or duplicate slashes."""
    parts = [p for p in f"{prefix}/{key}".split("/") if p]
    if any(p in {".", ".."} for p in parts):
        raise KeyTemplateError("prefix holds a '.' or '..' segment")
    return "/".join(parts)
