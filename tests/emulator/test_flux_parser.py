"""Tokenizer and parser: literals, precedence, functions, records; errors name the position."""

from __future__ import annotations

import re

import pytest

from app.emulator.flux import ast
from app.emulator.flux.csvout import format_float
from app.emulator.flux.errors import FluxError, UnsupportedError
from app.emulator.flux.lexer import tokenize
from app.emulator.flux.parser import parse
from app.emulator.flux.values import Duration, Time, format_time


def expr(source: str) -> ast.Expr:
    (statement,) = parse(source).body
    assert isinstance(statement, ast.ExprStatement)
    return statement.expr


def test_literals() -> None:
    assert expr("-1h30m") == ast.Literal(Duration(0, -5400 * 10**9), line=1, col=1)
    assert isinstance(expr("1mo2w"), ast.Literal)
    assert expr("1mo2w").value == Duration(1, 14 * 86400 * 10**9)  # type: ignore[union-attr]
    assert expr("2021-01-01T00:00:00.5+01:00").value == Time(1609455600500000000)  # type: ignore[union-attr]
    assert expr("2021-01-02").value == Time(1609545600 * 10**9)  # type: ignore[union-attr]
    assert expr('"a\\"b\\n"').value == 'a"b\n'  # type: ignore[union-attr]
    assert expr("/a\\/b+/").value == re.compile("a/b+")  # type: ignore[union-attr]
    assert expr("1.25").value == 1.25  # type: ignore[union-attr]


def test_slash_is_division_after_an_operand_and_a_regex_elsewhere() -> None:
    kinds = [t.kind for t in tokenize("a / b =~ /c/")]
    assert kinds == ["IDENT", "OP", "IDENT", "OP", "REGEX", "EOF"]


def test_precedence_or_and_not_comparison_additive_multiplicative() -> None:
    tree = expr("not a == 1 + 2 * 3 and b or c")
    assert isinstance(tree, ast.Logical)
    assert tree.op == "or"
    left = tree.left
    assert isinstance(left, ast.Logical)
    assert left.op == "and"
    negation = left.left
    assert isinstance(negation, ast.Unary)
    assert negation.op == "not"
    comparison = negation.operand
    assert isinstance(comparison, ast.Binary)
    assert comparison.op == "=="
    assert isinstance(comparison.right, ast.Binary)
    assert comparison.right.op == "+"
    assert isinstance(comparison.right.right, ast.Binary)
    assert comparison.right.right.op == "*"


def test_pipe_binds_tighter_than_arithmetic_and_needs_a_call() -> None:
    tree = expr("a |> f() |> g(x: 1)")
    assert isinstance(tree, ast.Pipe)
    assert isinstance(tree.left, ast.Pipe)
    with pytest.raises(FluxError, match="expected a function call after"):
        parse("a |> b")


def test_functions_records_arrays_conditionals_and_interpolation() -> None:
    program = parse(
        'import s "strings"\n'
        "f = (tables=<-, n=2) => { x = n * 2\n return tables |> limit(n: x) }\n"
        'g = (r) => ({r with a: 1, "b c": [1, 2], d})\n'
        'h = if x then "${y} z" else s.trim(v: " ")\n'
    )
    assert program.imports == [ast.Import("strings", "s", line=1, col=1)]
    f, g, h = (statement.value for statement in program.body)  # type: ignore[union-attr]
    assert isinstance(f, ast.FunctionLit)
    assert f.params[0].pipe
    assert isinstance(f.body, ast.Block)
    assert isinstance(g, ast.FunctionLit)
    assert isinstance(g.body, ast.RecordLit)
    assert [name for name, _ in g.body.fields] == ["a", "b c", "d"]
    assert isinstance(h, ast.Conditional)
    assert isinstance(h.consequent, ast.StringInterp)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("f(1)", "must be named"),
        ("x = (1", "line 1"),
        ('"open', "unterminated string"),
        ("a = 1 +", "expected an expression"),
        ("1x", "invalid"),
        ('from(bucket: "b")\nimport "x"', "import declarations must come before"),
    ],
)
def test_syntax_errors(source: str, message: str) -> None:
    with pytest.raises(FluxError, match=message):
        parse(source)


def test_dictionary_literals_are_unsupported() -> None:
    with pytest.raises(UnsupportedError, match="dictionary"):
        parse('d = ["a": 1]')


@pytest.mark.parametrize(
    ("value", "text"),
    [(73.0, "73"), (0.472, "0.472"), (1e-7, "0.0000001"), (1e21, "1000000000000000000000"), (-2.5, "-2.5")],
)
def test_floats_print_like_go(value: float, text: str) -> None:
    assert format_float(value) == text


def test_times_print_rfc3339_with_trailing_zeros_dropped() -> None:
    assert format_time(1632845585 * 10**9) == "2021-09-28T16:13:05Z"
    assert format_time(1632845585 * 10**9 + 493547551) == "2021-09-28T16:13:05.493547551Z"
    assert format_time(1632845585 * 10**9 + 500000000) == "2021-09-28T16:13:05.5Z"
