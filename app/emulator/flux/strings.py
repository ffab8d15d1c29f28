"""String literal contents: escapes and ``${expr}`` interpolation parts (a character scanner)."""

from __future__ import annotations

from app.emulator.flux.errors import FluxError
from app.emulator.flux.lexer import Token

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def split_string(raw: str, token: Token) -> list[str | tuple[str]]:
    """Literal text (escapes resolved) and ``(expression source,)`` tuples, in order."""
    parts: list[str | tuple[str]] = []
    buf: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\":
            nxt = raw[i + 1 : i + 2]
            if nxt not in _ESCAPES:
                raise FluxError(
                    f"syntax error at {token.where()}: invalid escape sequence '\\{nxt}' in string"
                )
            buf.append(_ESCAPES[nxt])
            i += 2
            continue
        if ch == "$" and raw[i + 1 : i + 2] == "{":
            depth, j = 1, i + 2
            while j < len(raw) and depth:
                if raw[j] == "{":
                    depth += 1
                elif raw[j] == "}":
                    depth -= 1
                j += 1
            if depth:
                raise FluxError(f"syntax error at {token.where()}: unterminated ${{ in string")
            if buf:
                parts.append("".join(buf))
                buf = []
            parts.append((raw[i + 2 : j - 1],))
            i = j
            continue
        buf.append(ch)
        i += 1
    if buf or not parts:
        parts.append("".join(buf))
    return parts
