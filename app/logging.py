"""Logging for every scriptcron process: one line per record, text or JSON, ids from context, no secrets.

- :func:`configure_logging` installs one stderr handler on the root logger (level and format from
  settings: ``log_level``, ``log_json``) with two filters: :class:`ContextFilter` puts the ids bound by
  :func:`log_context` on each record, :class:`RedactFilter` scrubs secrets from the message and the
  traceback text.
- :func:`log_context` binds ids (``run_id``, ``invocation_id``, ...) for a block, through contextvars,
  so every line logged inside carries them.
- :func:`redact` is the scrubber itself, for any text that may hold a secret (an exception message).
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

REDACTED = "***"

_context: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "scriptcron_log_context", default=None
)

# Each pattern keeps group 1 (the name) and replaces the rest with REDACTED.
_SECRET_KEYS = (
    r"authorization|proxy-authorization|x-api-key|api[_-]?key|api[_-]?tokens?|access[_-]?token|"
    r"refresh[_-]?token|token|secret|client[_-]?secret|password|passwd|pwd|"
    r"aws[_-]?secret[_-]?access[_-]?key|secret[_-]?access[_-]?key|encryption[_-]?key|webhook[_-]?secret"
)
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # URL user info: scheme://user:password@host -> scheme://user:***@host
    (re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@'\"]*:)[^\s@/'\"]+(@)"), rf"\1{REDACTED}\2"),
    # Standard Webhooks secrets anywhere.
    (re.compile(r"whsec_[A-Za-z0-9+/=_-]+"), f"whsec_{REDACTED}"),
    # Header-style or key=value / "key": "value" pairs whose key names a secret; a scheme word
    # (Token, Bearer, Basic) before the value is consumed too.
    (
        re.compile(
            rf"""(?ix)
            (["']?\b(?:{_SECRET_KEYS})\b["']?\s*[:=]\s*["']?)
            (?:(?:token|bearer|basic)\s+)?
            [^\s"',;&}}\])]+
            """
        ),
        rf"\1{REDACTED}",
    ),
    # A bare scheme credential as HTTP spells it: "Token abc...", "Bearer abc...".
    (re.compile(r"(\b(?:Token|Bearer|bearer|Basic)\s+)(?!\*\*\*)[A-Za-z0-9._~+/=-]{8,}"), rf"\1{REDACTED}"),
    # AWS access key ids.
    (re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"), rf"\1{REDACTED}"),
)


def redact(text: str) -> str:
    """``text`` with every secret it seems to hold replaced by ``***``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def current_context() -> dict[str, Any]:
    """The ids bound by the enclosing :func:`log_context` blocks."""
    return dict(_context.get() or {})


@contextmanager
def log_context(**ids: Any) -> Iterator[None]:
    """Bind ``ids`` (e.g. ``run_id=1, invocation_id=7``) to every log line inside the block; nests."""
    token = _context.set({**(_context.get() or {}), **{k: v for k, v in ids.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    """Copies the bound ids onto each record (``record.context``) for the formatters."""

    def filter(self, record: logging.LogRecord) -> bool:
        bound = current_context()
        existing = getattr(record, "context", None)
        record.context = {**bound, **existing} if isinstance(existing, dict) else bound
        return True


class RedactFilter(logging.Filter):
    """Scrubs secrets from the formatted message, its arguments and any traceback text."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep the raw text
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def _context_text(record: logging.LogRecord) -> str:
    context = getattr(record, "context", None) or {}
    return "".join(f" {key}={value}" for key, value in context.items())


class TextFormatter(logging.Formatter):
    """``2026-01-01T00:00:00Z INFO name run_id=1 invocation_id=2: message``."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        line = f"{stamp} {record.levelname} {record.name}{_context_text(record)}: {record.getMessage()}"
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(self.formatException(record.exc_info))
        if record.exc_text:
            line += "\n" + record.exc_text
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, the bound ids, exc (if any)."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update(getattr(record, "context", None) or {})
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(self.formatException(record.exc_info))
        if record.exc_text:
            payload["exc"] = record.exc_text
        return json.dumps(payload, default=str)


class _LogSettings(Protocol):
    log_level: str
    log_json: bool


_HANDLER_NAME = "scriptcron"
# uvicorn configures handlers of its own before it loads the app: route those loggers to ours.
_REROUTED_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
# Other loggers that libraries may give handlers of their own; ours scrub them too.
_LIBRARY_LOGGERS = ("celery", "celery.task", "celery.worker", "celery.redirected")


def make_handler(settings: _LogSettings, stream: Any = None) -> logging.Handler:
    """A stream handler with the scriptcron format and filters."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if settings.log_json else TextFormatter())
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactFilter())
    return handler


def install_filters(handler: logging.Handler) -> None:
    """Add the context and redaction filters to a handler that is not ours (idempotent)."""
    kinds = {type(f) for f in handler.filters}
    if ContextFilter not in kinds:
        handler.addFilter(ContextFilter())
    if RedactFilter not in kinds:
        handler.addFilter(RedactFilter())


def configure_logging(settings: _LogSettings, stream: Any = None) -> None:
    """Route every log record through one scriptcron handler on the root logger (idempotent)."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == _HANDLER_NAME:
            root.removeHandler(existing)
    root.addHandler(make_handler(settings, stream))
    root.setLevel(settings.log_level.upper())
    for name in _REROUTED_LOGGERS:
        library_logger = logging.getLogger(name)
        library_logger.handlers.clear()
        library_logger.propagate = True
    for name in _LIBRARY_LOGGERS:
        for handler in logging.getLogger(name).handlers:
            install_filters(handler)
    logging.captureWarnings(True)
