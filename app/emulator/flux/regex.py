"""Regular expression literals: Go RE2 syntax, compiled with Python's ``re`` (compatible for the
common subset; RE2-only syntax such as ``\\pN`` or ``(?P<name>`` differences raise a 400)."""

from __future__ import annotations

import re

from app.emulator.flux.errors import FluxError


def compile_regex(pattern: str, where: str = "") -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise FluxError(f"invalid regular expression /{pattern}/ {where}: {exc}".strip()) from None
