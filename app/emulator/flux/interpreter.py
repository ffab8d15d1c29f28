"""Evaluates a parsed Flux program: scopes, closures, builtin calls, streams and yields."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from app.emulator.flux import ast
from app.emulator.flux.errors import FluxError, UnsupportedError
from app.emulator.flux.operators import arithmetic, compare, negate, truthy
from app.emulator.flux.registry import Builtin, Context, lookup, package_members
from app.emulator.flux.values import Function, Package, Stream, Time, type_of

DEFAULT_RESULT = "_result"
# Flux functions the emulator knows of but may not implement: "not supported" instead of "undefined".
KNOWN_FLUX_FUNCTIONS = frozenset(
    [
        "aggregateWindow",
        "bottom",
        "buckets",
        "chandeMomentumOscillator",
        "columns",
        "count",
        "cov",
        "covariance",
        "cumulativeSum",
        "derivative",
        "difference",
        "distinct",
        "doubleEMA",
        "drop",
        "duplicate",
        "elapsed",
        "exponentialMovingAverage",
        "fill",
        "findColumn",
        "findRecord",
        "first",
        "from",
        "getColumn",
        "getRecord",
        "group",
        "highestAverage",
        "highestCurrent",
        "highestMax",
        "histogram",
        "histogramQuantile",
        "holtWinters",
        "hourSelection",
        "increase",
        "integral",
        "join",
        "kaufmansAMA",
        "keep",
        "keyValues",
        "keys",
        "last",
        "limit",
        "lowestAverage",
        "lowestCurrent",
        "lowestMin",
        "map",
        "max",
        "mean",
        "median",
        "min",
        "mode",
        "movingAverage",
        "pearsonr",
        "pivot",
        "quantile",
        "range",
        "reduce",
        "relativeStrengthIndex",
        "rename",
        "sample",
        "set",
        "skew",
        "sort",
        "spread",
        "stateCount",
        "stateDuration",
        "stddev",
        "sum",
        "tableFind",
        "tail",
        "timeShift",
        "timeWeightedAvg",
        "timedMovingAverage",
        "toBool",
        "toFloat",
        "toInt",
        "toString",
        "toTime",
        "toUInt",
        "top",
        "tripleEMA",
        "tripleExponentialDerivative",
        "truncateTimeColumn",
        "union",
        "unique",
        "window",
        "yield",
        "display",
        "contains",
        "length",
        "die",
        "bool",
        "bytes",
        "uint",
        "experimental",
        "to",
    ]
)


@dataclass
class Scope:
    values: dict[str, Any] = field(default_factory=dict)
    parent: Scope | None = None

    def get(self, name: str) -> Any:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.values:
                return scope.values[name]
            scope = scope.parent
        raise KeyError(name)


class Closure(Function):
    """An arrow function with the scope it was defined in."""

    def __init__(self, node: ast.FunctionLit, scope: Scope, interp: Interpreter) -> None:
        self.node = node
        self.scope = scope
        self.interp = interp
        self.params = tuple(p.name for p in node.params)
        self.pipe_param = next((p.name for p in node.params if p.pipe), None)
        self.name = "<function>"

    @property
    def body(self) -> ast.Expr | ast.Block:
        return self.node.body

    def call(self, **named: Any) -> Any:
        return self.interp.call_closure(self, named, piped=None)


class BuiltinFunction(Function):
    """A registered builtin bound to the running query's context."""

    def __init__(self, spec: Builtin, interp: Interpreter) -> None:
        self.spec = spec
        self.interp = interp
        self.name = spec.qualified_name
        self.params = tuple(sorted(spec.arg_names))

    def call(self, **named: Any) -> Any:
        return self.interp.call_builtin(self, named, piped=None)


@dataclass
class Result:
    name: str
    stream: Stream


class Interpreter:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.results: list[Result] = []
        self.globals = Scope({"params": dict(ctx.params), "true": True, "false": False})

    # -- program -------------------------------------------------------------------------------
    def run(self, program: ast.Program) -> list[Result]:
        for imp in program.imports:
            members = package_members(imp.path)
            if members is None:
                raise UnsupportedError(f'package "{imp.path}" is not supported by the emulator')
            name = imp.alias or imp.path.rsplit("/", 1)[-1]
            self.globals.values[name] = Package(imp.path, members)
        for statement in program.body:
            self.statement(statement, self.globals, top_level=True)
        return self.results

    def statement(self, node: ast.Statement, scope: Scope, top_level: bool = False) -> Any:
        if isinstance(node, ast.VarAssign):
            scope.values[node.name] = self.eval(node.value, scope)
            return None
        if isinstance(node, ast.OptionAssign):
            if node.name != "now":
                raise UnsupportedError(f"option {node.name} is not supported ({node.where()})")
            value = self.eval(node.value, scope)
            now = value.call() if isinstance(value, Function) else value
            if not isinstance(now, Time):
                raise FluxError("option now must be a function returning a time")
            self.ctx.now = now
            return None
        if isinstance(node, ast.Return):
            return self.eval(node.value, scope)
        value = self.eval(node.expr, scope)
        if top_level and isinstance(value, Stream) and not any(r.stream is value for r in self.results):
            self.add_result(DEFAULT_RESULT, value)
        return value

    def add_result(self, name: str, stream: Stream) -> None:
        if any(result.name == name for result in self.results):
            raise FluxError(f'duplicate yield name "{name}": give each yield() a distinct name')
        self.results.append(Result(name, stream))

    # -- expressions ---------------------------------------------------------------------------
    def eval(self, node: ast.Expr, scope: Scope) -> Any:
        method = getattr(self, f"eval_{type(node).__name__}", None)
        if method is None:
            raise UnsupportedError(f"unsupported expression {type(node).__name__} at {node.where()}")
        return method(node, scope)

    def eval_Literal(self, node: ast.Literal, scope: Scope) -> Any:
        return node.value

    def eval_Identifier(self, node: ast.Identifier, scope: Scope) -> Any:
        try:
            return scope.get(node.name)
        except KeyError:
            pass
        spec = lookup(node.name)
        if spec is not None:
            return BuiltinFunction(spec, self)
        if node.name in KNOWN_FLUX_FUNCTIONS:
            raise UnsupportedError(
                f"function {node.name}() is not supported by the emulator ({node.where()})"
            )
        raise FluxError(f"undefined identifier {node.name} ({node.where()})")

    def eval_StringInterp(self, node: ast.StringInterp, scope: Scope) -> str:
        out: list[str] = []
        for part in node.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = self.eval(part, scope)
            if value is None:
                raise FluxError(f"string interpolation of a null value ({node.where()})")
            if isinstance(value, bool):
                out.append("true" if value else "false")
            elif isinstance(value, str | int | float) or type_of(value) in {"time", "duration"}:
                out.append(str(value))
            else:
                raise FluxError(f"cannot interpolate a {type_of(value)} into a string ({node.where()})")
        return "".join(out)

    def eval_ArrayLit(self, node: ast.ArrayLit, scope: Scope) -> list[Any]:
        return [self.eval(item, scope) for item in node.items]

    def eval_RecordLit(self, node: ast.RecordLit, scope: Scope) -> dict[str, Any]:
        record: dict[str, Any] = {}
        if node.with_ is not None:
            base = self.eval(node.with_, scope)
            if not isinstance(base, dict):
                raise FluxError(f"type error: 'with' needs a record, got {type_of(base)} ({node.where()})")
            record.update(base)
        for name, expr in node.fields:
            record[name] = self.eval(expr, scope)
        return record

    def eval_Member(self, node: ast.Member, scope: Scope) -> Any:
        obj = self.eval(node.obj, scope)
        return self.member(obj, node.name, node)

    def member(self, obj: Any, name: str, node: ast.Node) -> Any:
        if isinstance(obj, dict):
            return obj.get(name)
        if isinstance(obj, Package):
            if name not in obj.members:
                raise UnsupportedError(f"{obj.name}.{name} is not supported by the emulator ({node.where()})")
            member = obj.members[name]
            return BuiltinFunction(member, self) if isinstance(member, Builtin) else member
        raise FluxError(f"type error: cannot access .{name} of a {type_of(obj)} ({node.where()})")

    def eval_Index(self, node: ast.Index, scope: Scope) -> Any:
        obj = self.eval(node.obj, scope)
        index = self.eval(node.index, scope)
        if isinstance(obj, dict) and isinstance(index, str):
            return obj.get(index)
        if isinstance(obj, list) and isinstance(index, int) and not isinstance(index, bool):
            if not 0 <= index < len(obj):
                raise FluxError(f"index out of bounds: {index} (array of {len(obj)}) ({node.where()})")
            return obj[index]
        raise FluxError(f"type error: cannot index a {type_of(obj)} with a {type_of(index)} ({node.where()})")

    def eval_Binary(self, node: ast.Binary, scope: Scope) -> Any:
        left = self.eval(node.left, scope)
        right = self.eval(node.right, scope)
        if node.op in {"==", "!=", "<", "<=", ">", ">=", "=~", "!~"}:
            return compare(node.op, left, right)
        return arithmetic(node.op, left, right)

    def eval_Logical(self, node: ast.Logical, scope: Scope) -> bool:
        left = truthy(self.eval(node.left, scope), node.op)
        if node.op == "and":
            return left and truthy(self.eval(node.right, scope), node.op)
        return left or truthy(self.eval(node.right, scope), node.op)

    def eval_Unary(self, node: ast.Unary, scope: Scope) -> Any:
        value = self.eval(node.operand, scope)
        if node.op == "exists":
            return value is not None
        if node.op == "not":
            return not truthy(value, "not")
        if node.op == "-":
            return negate(value)
        return value

    def eval_Conditional(self, node: ast.Conditional, scope: Scope) -> Any:
        if truthy(self.eval(node.test, scope), "if"):
            return self.eval(node.consequent, scope)
        return self.eval(node.alternate, scope)

    def eval_FunctionLit(self, node: ast.FunctionLit, scope: Scope) -> Closure:
        return Closure(node, scope, self)

    def eval_Call(self, node: ast.Call, scope: Scope) -> Any:
        return self.call(node, scope, piped=None)

    def eval_Pipe(self, node: ast.Pipe, scope: Scope) -> Any:
        return self.call(node.call, scope, piped=self.eval(node.left, scope))

    # -- calls ---------------------------------------------------------------------------------
    def call(self, node: ast.Call, scope: Scope, piped: Any) -> Any:
        callee = self.eval(node.callee, scope)
        named = {name: self.eval(expr, scope) for name, expr in node.args}
        if isinstance(callee, BuiltinFunction):
            return self.call_builtin(callee, named, piped, node)
        if isinstance(callee, Closure):
            return self.call_closure(callee, named, piped, node)
        raise FluxError(f"type error: cannot call a {type_of(callee)} ({node.where()})")

    def call_closure(
        self, fn: Closure, named: dict[str, Any], piped: Any, node: ast.Node | None = None
    ) -> Any:
        local = Scope({}, fn.scope)
        for param in fn.node.params:
            if param.pipe:
                if piped is None and param.name not in named:
                    raise FluxError(f"function called without piped-in tables for {param.name}")
                local.values[param.name] = named.get(param.name, piped)
            elif param.name in named:
                local.values[param.name] = named[param.name]
            elif param.default is not None:
                local.values[param.name] = self.eval(param.default, fn.scope)
            else:
                raise FluxError(f"missing required argument {param.name!r}")
        unknown = set(named) - set(fn.params)
        if unknown:
            raise FluxError(f"unknown argument {sorted(unknown)[0]!r} in function call")
        body = fn.node.body
        if isinstance(body, ast.Block):
            for statement in body.body:
                if isinstance(statement, ast.Return):
                    return self.eval(statement.value, local)
                self.statement(statement, local)
            raise FluxError("function body has no return statement")
        return self.eval(body, local)

    def call_builtin(
        self, fn: BuiltinFunction, named: dict[str, Any], piped: Any, node: ast.Node | None = None
    ) -> Any:
        spec = fn.spec
        if spec.package is None and spec.name == "yield":
            spec.check_args(named)
            if not isinstance(piped, Stream):
                raise FluxError("yield(): missing piped-in tables")
            name = named.get("name", DEFAULT_RESULT)
            if not isinstance(name, str):
                raise FluxError("yield(): name must be a string")
            self.add_result(name, piped)
            return piped
        args = {_python_name(k): v for k, v in named.items()}
        spec.check_args(args)

        def run() -> Any:
            tables = piped.tables() if isinstance(piped, Stream) else piped
            return spec.fn(self.ctx, tables, **args)

        first = run()
        if isinstance(first, Iterator) and not isinstance(first, str | bytes | re.Pattern):
            return Stream.started(run, first)
        return first


def _python_name(name: str) -> str:
    import keyword

    return name + "_" if keyword.iskeyword(name) else name
