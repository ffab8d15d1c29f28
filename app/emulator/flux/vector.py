"""Vectorised evaluation of ``(r) => ...`` over a whole table: each ``r.col`` is a numpy column.

:func:`evaluate` returns a :class:`~app.emulator.flux.table.Column` (one value per row), a plain Flux
value (the same for every row), or for a record body a dict of either. It raises
:class:`NotVectorizable` for anything it cannot do column-wise; callers then evaluate row by row
(:mod:`app.emulator.flux.rowfn`). Semantics match the scalar path (app.emulator.flux.operators):
comparisons with null are false, arithmetic with null is null, int and float never mix in arithmetic.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np

from app.emulator.flux import ast
from app.emulator.flux.errors import FluxError
from app.emulator.flux.operators import arithmetic as scalar_arithmetic
from app.emulator.flux.operators import compare as scalar_compare
from app.emulator.flux.operators import negate
from app.emulator.flux.table import BOOL, FLOAT, INT, STRING, TIME, UINT, Column, Table, column_type_of
from app.emulator.flux.values import Time, type_of

if TYPE_CHECKING:
    from app.emulator.flux.interpreter import Closure

Vec = Column
NUMERIC = {INT, UINT, FLOAT}


class NotVectorizable(Exception):
    """Raised when an expression cannot be evaluated column-wise; fall back to rows."""


def uses_name(node: Any, name: str) -> bool:
    return any(isinstance(n, ast.Identifier) and n.name == name for n in ast.walk(node))


def _or_nulls(*cols: Any) -> np.ndarray | None:
    masks = [c.nulls for c in cols if isinstance(c, Column) and c.nulls is not None]
    if not masks:
        return None
    out = masks[0].copy()
    for mask in masks[1:]:
        out |= mask
    return out


def _kind(value: Any) -> str | None:
    if isinstance(value, Column):
        return value.type
    try:
        return column_type_of(value)
    except TypeError:
        return type_of(value)


def _raw(value: Any) -> Any:
    if isinstance(value, Column):
        return value.values
    if isinstance(value, Time):
        return value.ns
    return value


def _as_bool(value: Any, n: int, what: str) -> np.ndarray:
    """A bool operand as a mask (null counts as false)."""
    if isinstance(value, Column):
        if value.type != BOOL:
            raise FluxError(f"type error: {what} needs a bool, got {value.type}")
        mask = value.values.astype(bool)
        return mask & ~value.nulls if value.nulls is not None else mask
    if value is None:
        return np.zeros(n, dtype=bool)
    if not isinstance(value, bool):
        raise FluxError(f"type error: {what} needs a bool, got {type_of(value)}")
    return np.full(n, value, dtype=bool)


def broadcast(value: Any, n: int) -> Column:
    """A value or column as a column of ``n`` rows."""
    if isinstance(value, Column):
        return value
    kind = column_type_of(value)
    return Column.constant(kind or STRING, value, n)


class VectorEvaluator:
    def __init__(self, fn: Closure, table: Table, param: str = "r") -> None:
        self.fn = fn
        self.table = table
        self.param = param
        self.n = len(table)
        self.keys = dict(table.key)

    def scalar(self, node: ast.Expr) -> Any:
        from app.emulator.flux.interpreter import Scope

        return self.fn.interp.eval(node, Scope({}, self.fn.scope))

    def eval(self, node: ast.Expr) -> Any:
        if not uses_name(node, self.param):
            return self.scalar(node)
        if (
            isinstance(node, ast.Member)
            and isinstance(node.obj, ast.Identifier)
            and node.obj.name == self.param
        ):
            return self.column(node.name)
        if (
            isinstance(node, ast.Index)
            and isinstance(node.obj, ast.Identifier)
            and node.obj.name == self.param
            and isinstance(node.index, ast.Literal)
            and isinstance(node.index.value, str)
        ):
            return self.column(node.index.value)
        method = getattr(self, f"eval_{type(node).__name__}", None)
        if method is None:
            raise NotVectorizable(type(node).__name__)
        return method(node)

    def column(self, name: str) -> Any:
        """``r.name``: a group-key column is one value for the whole table (compared once)."""
        if name in self.keys:
            return self.keys[name]
        return self.table.columns.get(name)

    def eval_Binary(self, node: ast.Binary) -> Any:
        left, right = self.eval(node.left), self.eval(node.right)
        if node.op in {"==", "!=", "<", "<=", ">", ">=", "=~", "!~"}:
            return self.compare(node.op, left, right)
        return self.arithmetic(node.op, left, right)

    def compare(self, op: str, left: Any, right: Any) -> Any:
        n = self.n
        if not isinstance(left, Column) and not isinstance(right, Column):
            return scalar_compare(op, left, right)  # e.g. a group-key column against a literal
        if left is None or right is None:
            return Column(BOOL, np.zeros(n, dtype=bool))
        if op in {"=~", "!~"}:
            if not isinstance(right, re.Pattern) or _kind(left) != STRING:
                raise FluxError(f"type error: {op} needs a string and a regular expression")
            assert isinstance(left, Column)
            search = right.search
            found = np.fromiter((search(s) is not None for s in left.values), dtype=bool, count=n)
            result = found if op == "=~" else ~found
            return Column(BOOL, result & ~left.nulls if left.nulls is not None else result)
        lk, rk = _kind(left), _kind(right)
        if lk != rk and not (lk in NUMERIC and rk in NUMERIC):
            raise FluxError(f"type error: cannot compare {lk} with {rk} using {op}")
        if lk not in {STRING, INT, UINT, FLOAT, BOOL, TIME}:
            raise NotVectorizable(f"compare {lk}")
        a, b = _raw(left), _raw(right)
        if op == "==":
            result = a == b
        elif op == "!=":
            result = a != b
        elif op == "<":
            result = a < b
        elif op == "<=":
            result = a <= b
        elif op == ">":
            result = a > b
        else:
            result = a >= b
        result = np.asarray(result, dtype=bool)
        if result.shape != (n,):
            result = np.full(n, bool(result), dtype=bool)
        nulls = _or_nulls(left, right)
        return Column(BOOL, result & ~nulls if nulls is not None else result)

    def arithmetic(self, op: str, left: Any, right: Any) -> Any:
        n = self.n
        if not isinstance(left, Column) and not isinstance(right, Column):
            return scalar_arithmetic(op, left, right)
        lk, rk = _kind(left), _kind(right)
        if left is None or right is None:
            kind = rk if left is None else lk
            return Column.constant(kind if kind in NUMERIC | {STRING} else FLOAT, None, n)
        if lk != rk:
            raise FluxError(f"type error: cannot apply {op} to {lk} and {rk}")
        if lk == STRING and op == "+":
            values = np.asarray(_raw(left) + _raw(right), dtype=object)
            return Column(STRING, values, _or_nulls(left, right))
        if lk not in NUMERIC:
            raise FluxError(f"type error: {op} is not defined for {lk}")
        a, b = _raw(left), _raw(right)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if op == "+":
                values = a + b
            elif op == "-":
                values = a - b
            elif op == "*":
                values = a * b
            elif op == "^":
                values = np.power(np.asarray(a, dtype=np.float64), b) if lk == FLOAT else np.power(a, b)
            elif op in {"/", "%"}:
                if lk in {INT, UINT} and bool(np.any(np.asarray(b) == 0)):
                    raise FluxError(f"cannot {'divide' if op == '/' else 'take the remainder'} by zero")
                if op == "%":
                    values = np.fmod(a, b)
                elif lk == FLOAT:
                    values = np.true_divide(a, b)
                else:
                    values = (np.abs(a) // np.abs(b)) * (np.sign(a) * np.sign(b))
            else:
                raise NotVectorizable(op)
        values = np.asarray(values)
        if values.shape != (n,):
            values = np.full(n, values.item())
        dtype = {INT: np.int64, UINT: np.uint64, FLOAT: np.float64}[lk]
        return Column(lk, values.astype(dtype, copy=False), _or_nulls(left, right))

    def eval_Logical(self, node: ast.Logical) -> Column:
        left = _as_bool(self.eval(node.left), self.n, node.op)
        right = _as_bool(self.eval(node.right), self.n, node.op)
        return Column(BOOL, left & right if node.op == "and" else left | right)

    def eval_Unary(self, node: ast.Unary) -> Any:
        value = self.eval(node.operand)
        if node.op == "exists":
            if isinstance(value, Column):
                return Column(BOOL, ~value.nulls if value.nulls is not None else np.ones(self.n, dtype=bool))
            return value is not None
        if node.op == "not":
            return Column(BOOL, ~_as_bool(value, self.n, "not"))
        if node.op == "-":
            if isinstance(value, Column):
                if value.type not in {INT, FLOAT}:
                    raise FluxError(f"type error: cannot negate a {value.type}")
                return Column(value.type, -value.values, value.nulls)
            return negate(value)
        return value

    def eval_Conditional(self, node: ast.Conditional) -> Column:
        test = _as_bool(self.eval(node.test), self.n, "if")
        cons = broadcast(self.eval(node.consequent), self.n)
        alt = broadcast(self.eval(node.alternate), self.n)
        if cons.type != alt.type:
            if cons.nulls is not None and bool(cons.nulls.all()):
                cons = Column.constant(alt.type, None, self.n)
            elif alt.nulls is not None and bool(alt.nulls.all()):
                alt = Column.constant(cons.type, None, self.n)
            else:
                raise FluxError(f"type error: if/then/else branches differ: {cons.type} and {alt.type}")
        values = np.where(test, cons.values, alt.values)
        cn = cons.nulls if cons.nulls is not None else np.zeros(self.n, dtype=bool)
        an = alt.nulls if alt.nulls is not None else np.zeros(self.n, dtype=bool)
        nulls = np.where(test, cn, an)
        return Column(cons.type, values.astype(cons.values.dtype, copy=False), nulls if nulls.any() else None)

    def eval_RecordLit(self, node: ast.RecordLit) -> dict[str, Any]:
        record: dict[str, Any] = {}
        if node.with_ is not None:
            if not (isinstance(node.with_, ast.Identifier) and node.with_.name == self.param):
                raise NotVectorizable("with on another record")
            record.update(self.table.columns)
        for name, expr in node.fields:
            record[name] = self.eval(expr)
        return record

    def eval_Call(self, node: ast.Call) -> Any:
        from app.emulator.flux.interpreter import BuiltinFunction

        callee = self.eval(node.callee)
        if not isinstance(callee, BuiltinFunction) or callee.spec.vector is None:
            raise NotVectorizable("call")
        args = {name: self.eval(expr) for name, expr in node.args}
        callee.spec.check_args(args)
        return callee.spec.vector(self.fn.interp.ctx, **args)


def evaluate(fn: Closure, table: Table) -> Any:
    """The body of ``fn`` over every row of ``table`` at once (see the module docstring)."""
    if isinstance(fn.body, ast.Block) or len(fn.params) != 1:
        raise NotVectorizable("function shape")
    return VectorEvaluator(fn, table, fn.params[0]).eval(fn.body)
