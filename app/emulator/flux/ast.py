"""AST nodes of the Flux subset. Every node keeps its source position for error messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Node:
    line: int = field(default=0, kw_only=True)
    col: int = field(default=0, kw_only=True)

    def where(self) -> str:
        return f"line {self.line}, column {self.col}"


@dataclass
class Identifier(Node):
    name: str


@dataclass
class Literal(Node):
    """int, float, string, duration, time or regexp literal; ``value`` is the Flux value."""

    value: Any


@dataclass
class StringInterp(Node):
    """``"a ${expr} b"``: literal strings and expressions alternating."""

    parts: list[str | Expr]


@dataclass
class ArrayLit(Node):
    items: list[Expr]


@dataclass
class RecordLit(Node):
    fields: list[tuple[str, Expr]]
    with_: Expr | None = None


@dataclass
class Member(Node):
    obj: Expr
    name: str


@dataclass
class Index(Node):
    obj: Expr
    index: Expr


@dataclass
class Call(Node):
    callee: Expr
    args: list[tuple[str, Expr]]


@dataclass
class Pipe(Node):
    left: Expr
    call: Call


@dataclass
class Param(Node):
    name: str
    default: Expr | None = None
    pipe: bool = False  # ``tables=<-``


@dataclass
class FunctionLit(Node):
    params: list[Param]
    body: Expr | Block


@dataclass
class Binary(Node):
    op: str  # + - * / % ^ == != < <= > >= =~ !~
    left: Expr
    right: Expr


@dataclass
class Logical(Node):
    op: str  # and, or
    left: Expr
    right: Expr


@dataclass
class Unary(Node):
    op: str  # - + not exists
    operand: Expr


@dataclass
class Conditional(Node):
    test: Expr
    consequent: Expr
    alternate: Expr


Expr = (
    Identifier
    | Literal
    | StringInterp
    | ArrayLit
    | RecordLit
    | Member
    | Index
    | Call
    | Pipe
    | FunctionLit
    | Binary
    | Logical
    | Unary
    | Conditional
)


@dataclass
class Import(Node):
    path: str
    alias: str | None = None


@dataclass
class VarAssign(Node):
    name: str
    value: Expr


@dataclass
class OptionAssign(Node):
    name: str
    value: Expr


@dataclass
class ExprStatement(Node):
    expr: Expr


@dataclass
class Return(Node):
    value: Expr


Statement = VarAssign | OptionAssign | ExprStatement | Return


@dataclass
class Block(Node):
    body: list[Statement]


@dataclass
class Program(Node):
    imports: list[Import]
    body: list[Statement]


def walk(node: Any) -> Any:
    """Every node under ``node`` (itself included), depth first."""
    yield node
    if isinstance(node, Node):
        for value in vars(node).values():
            yield from _walk_value(value)


def _walk_value(value: Any) -> Any:
    if isinstance(value, Node):
        yield from walk(value)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _walk_value(item)
