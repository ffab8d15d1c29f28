"""The Flux tokenizer: turns script text into :class:`Token` values (no regular expressions)."""

from __future__ import annotations

from dataclasses import dataclass

from app.emulator.flux.errors import FluxError

KEYWORDS = frozenset(
    {
        "and",
        "or",
        "not",
        "exists",
        "if",
        "then",
        "else",
        "import",
        "package",
        "return",
        "option",
        "builtin",
        "testcase",
        "with",
    }
)
# Longest first so that "<=" wins over "<".
OPERATORS = (
    "|>",
    "<-",
    "=>",
    "==",
    "!=",
    "<=",
    ">=",
    "=~",
    "!~",
    "+",
    "-",
    "*",
    "/",
    "%",
    "^",
    "<",
    ">",
    "=",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    ".",
    ";",
    "?",
)
DURATION_UNITS = ("mo", "ms", "us", "µs", "ns", "y", "w", "d", "h", "m", "s")
# After these tokens a "/" divides; elsewhere it opens a regular expression literal.
_OPERAND_END = frozenset({"IDENT", "INT", "FLOAT", "STRING", "DURATION", "TIME", "REGEX"})
_CLOSERS = frozenset({")", "]", "}"})


@dataclass(frozen=True)
class Token:
    kind: str  # IDENT KEYWORD INT FLOAT STRING DURATION TIME REGEX OP EOF
    text: str
    line: int
    col: int
    value: object = None

    def where(self) -> str:
        return f"line {self.line}, column {self.col}"


class Lexer:
    def __init__(self, source: str) -> None:
        self.src = source
        self.pos = 0
        self.line = 1
        self.col = 1
        self.tokens: list[Token] = []

    def error(self, message: str) -> FluxError:
        return FluxError(f"syntax error at line {self.line}, column {self.col}: {message}")

    def _advance(self, count: int) -> None:
        for ch in self.src[self.pos : self.pos + count]:
            if ch == "\n":
                self.line += 1
                self.col = 1
            else:
                self.col += 1
        self.pos += count

    def _peek(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.src[index] if index < len(self.src) else ""

    def tokenize(self) -> list[Token]:
        while True:
            self._skip_space()
            if self.pos >= len(self.src):
                self.tokens.append(Token("EOF", "", self.line, self.col))
                return self.tokens
            self.tokens.append(self._next())

    def _skip_space(self) -> None:
        while self.pos < len(self.src):
            ch = self.src[self.pos]
            if ch in " \t\r\n":
                self._advance(1)
            elif ch == "/" and self._peek(1) == "/":
                while self.pos < len(self.src) and self.src[self.pos] != "\n":
                    self._advance(1)
            else:
                return

    def _emit(self, kind: str, start: int, line: int, col: int, value: object = None) -> Token:
        return Token(kind, self.src[start : self.pos], line, col, value)

    def _next(self) -> Token:
        ch = self._peek()
        start, line, col = self.pos, self.line, self.col
        if ch.isalpha() or ch == "_":
            while self._peek().isalnum() or self._peek() == "_":
                self._advance(1)
            text = self.src[start : self.pos]
            return Token("KEYWORD" if text in KEYWORDS else "IDENT", text, line, col)
        if ch.isdigit():
            return self._number(start, line, col)
        if ch == '"':
            return self._string(start, line, col)
        if ch == "/" and self._regex_allowed():
            return self._regex(start, line, col)
        for op in OPERATORS:
            if self.src.startswith(op, self.pos):
                self._advance(len(op))
                return Token("OP", op, line, col)
        raise self.error(f"unexpected character {ch!r}")

    def _regex_allowed(self) -> bool:
        if not self.tokens:
            return True
        last = self.tokens[-1]
        return not (last.kind in _OPERAND_END or (last.kind == "OP" and last.text in _CLOSERS))

    def _digits(self) -> str:
        start = self.pos
        while self._peek().isdigit():
            self._advance(1)
        return self.src[start : self.pos]

    def _number(self, start: int, line: int, col: int) -> Token:
        digits = self._digits()
        if len(digits) == 4 and self._peek() == "-" and self._peek(1).isdigit():
            return self._time(start, line, col)
        if self._peek() == "." and self._peek(1).isdigit():
            self._advance(1)
            self._digits()
            return self._emit("FLOAT", start, line, col, float(self.src[start : self.pos]))
        if self._unit_ahead():
            parts: list[tuple[int, str]] = []
            amount = digits
            while True:
                unit = self._unit_ahead()
                if not unit:
                    raise self.error(f"invalid duration literal {self.src[start : self.pos + 1]!r}")
                self._advance(len(unit))
                parts.append((int(amount), "us" if unit == "µs" else unit))
                if not self._peek().isdigit():
                    break
                amount = self._digits()
            if self._peek().isalpha():
                raise self.error(f"invalid duration unit in {self.src[start : self.pos + 1]!r}")
            return self._emit("DURATION", start, line, col, tuple(parts))
        if self._peek().isalpha() or self._peek() == "_":
            raise self.error(f"invalid number {self.src[start : self.pos + 1]!r}")
        return self._emit("INT", start, line, col, int(digits))

    def _unit_ahead(self) -> str:
        for unit in DURATION_UNITS:
            if self.src.startswith(unit, self.pos):
                after = self._peek(len(unit))
                if not (after.isalpha() or after == "_"):
                    return unit
        return ""

    def _time(self, start: int, line: int, col: int) -> Token:
        allowed = set("0123456789-:.TZ+")
        while self._peek() in allowed and self._peek() != "":
            # a "-" or "+" after the date part belongs to an offset only after a "T"
            self._advance(1)
        text = self.src[start : self.pos]
        from app.emulator.flux.timeparse import parse_time_literal

        try:
            value = parse_time_literal(text)
        except ValueError as exc:
            raise self.error(f"invalid time literal {text!r}: {exc}") from None
        return Token("TIME", text, line, col, value)

    def _string(self, start: int, line: int, col: int) -> Token:
        self._advance(1)
        depth = 0
        while True:
            ch = self._peek()
            if ch == "":
                raise FluxError(f"syntax error at line {line}, column {col}: unterminated string literal")
            if ch == "\\":
                self._advance(2)
                continue
            if ch == "$" and self._peek(1) == "{":
                depth += 1
                self._advance(2)
                continue
            if ch == "}" and depth:
                depth -= 1
            elif ch == '"' and not depth:
                self._advance(1)
                return self._emit("STRING", start, line, col, self.src[start + 1 : self.pos - 1])
            self._advance(1)

    def _regex(self, start: int, line: int, col: int) -> Token:
        self._advance(1)
        chars: list[str] = []
        while True:
            ch = self._peek()
            if ch in ("", "\n"):
                raise FluxError(f"syntax error at line {line}, column {col}: unterminated regular expression")
            if ch == "\\" and self._peek(1) == "/":
                chars.append("/")
                self._advance(2)
                continue
            if ch == "\\":
                chars.append(self.src[self.pos : self.pos + 2])
                self._advance(2)
                continue
            self._advance(1)
            if ch == "/":
                return self._emit("REGEX", start, line, col, "".join(chars))
            chars.append(ch)


def tokenize(source: str) -> list[Token]:
    return Lexer(source).tokenize()
