"""The registry of Flux builtins. How to add a function (FLUX2 and anyone else):

    from collections.abc import Iterator
    from app.emulator.flux.registry import Context, builtin
    from app.emulator.flux.table import Column, Table, FLOAT

    @builtin("mean")                                  # a universe function
    def mean(ctx: Context, tables: Iterator[Table] | None, *, column: str = "_value") -> Iterator[Table]:
        require_tables(tables, "mean")                # piped input (None when not called with |>)
        for table in tables: ...                      # read lazily, yield tables one by one

    @builtin("hasPrefix", package="strings")          # a package member: import "strings"
    def has_prefix(ctx: Context, tables: None, *, v: str, prefix: str) -> bool: ...

Rules:
- ``fn(ctx, tables, **named_args)``. ``tables`` is the piped-in ``Iterator[Table]`` (``x |> f()``) or
  None. Named arguments arrive as Flux values (app.emulator.flux.values: str/int/float/bool/None, Time,
  Duration, re.Pattern, dict records, lists, Function for ``fn:`` arguments, Stream for table arguments
  such as ``union(tables: [a, b])`` (read with ``stream.tables()``)). Python keyword names: a Flux
  argument that is a Python keyword (``from``, ``yield``...) arrives with a trailing underscore.
  Unknown argument names raise a 400 naming the function and argument (checked from the signature),
  missing required ones too.
- A table function returns an ``Iterator[Table]``; the interpreter wraps it in a re-readable Stream.
  Do the argument checks BEFORE the first ``yield`` (write a plain function that validates and then
  returns an inner generator) so errors become HTTP 400s before any CSV row is sent.
- A value function (``duration``, ``strings.hasPrefix``...) returns a plain value; it may be called
  per row inside ``(r) => ...``. Register a numpy version with ``vector=`` to keep filters/maps over
  whole columns: ``@builtin("hasPrefix", package="strings", vector=has_prefix_vec)`` where
  ``has_prefix_vec(ctx, **args)`` receives :class:`~app.emulator.flux.vector.Vec` or plain values for
  each argument and returns a Vec, or raises :class:`~app.emulator.flux.vector.NotVectorizable`.
- Constants of a package (``math.pi``): ``register_constant("pi", math.pi, package="math")``.
- Raise :class:`~app.emulator.flux.errors.FluxError` (400) for bad input, and
  :class:`~app.emulator.flux.errors.UnsupportedError` for an option you do not implement; never return
  a silently wrong answer.
- Row functions: :func:`app.emulator.flux.rowfn.filter_mask(ctx, fn, table)` (bool mask) and
  :func:`app.emulator.flux.rowfn.map_columns(ctx, fn, table)` (record -> ordered dict of Columns)
  evaluate ``(r) => ...`` vectorised over the columns with a per-row fallback; ``fn.call(r=row_dict)``
  evaluates one row.
- :func:`load_builtins` imports the modules in :data:`BUILTIN_MODULES` and then EVERY module of the
  package ``app.emulator.flux.stdlib`` (FLUX2: put your modules there; no registration list to edit).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.emulator.flux.errors import FluxError

if TYPE_CHECKING:
    from app.emulator.flux.table import Table
    from app.emulator.flux.values import Time
    from app.emulator.storage import DataStore

STDLIB_PACKAGE = "app.emulator.flux.stdlib"
BUILTIN_MODULES: list[str] = [
    "app.emulator.flux.builtins_core",
    "app.emulator.flux.builtins_values",
]


@dataclass
class Context:
    """What a builtin may use: the query's ``now``, the org's data, and the engine's caller."""

    now: Time
    data: DataStore
    org_id: str
    params: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


BuiltinFn = Callable[..., Any]


@dataclass(frozen=True)
class Builtin:
    name: str
    package: str | None
    fn: BuiltinFn
    vector: BuiltinFn | None = None
    arg_names: frozenset[str] = frozenset()
    required: frozenset[str] = frozenset()
    var_kwargs: bool = False

    @property
    def qualified_name(self) -> str:
        return f"{self.package}.{self.name}" if self.package else self.name

    def check_args(self, named: dict[str, Any]) -> None:
        if not self.var_kwargs:
            unknown = sorted(set(named) - self.arg_names)
            if unknown:
                raise FluxError(f"{self.qualified_name}(): unknown argument {unknown[0].rstrip('_')!r}")
        missing = sorted(self.required - set(named))
        if missing:
            raise FluxError(f"{self.qualified_name}(): missing required argument {missing[0].rstrip('_')!r}")


_BUILTINS: dict[tuple[str | None, str], Builtin] = {}
_CONSTANTS: dict[tuple[str, str], Any] = {}
_loaded = False


def builtin(
    name: str, package: str | None = None, *, vector: BuiltinFn | None = None
) -> Callable[[BuiltinFn], BuiltinFn]:
    """Register ``fn(ctx, tables, **named_args)`` as Flux function ``name`` (in ``package``)."""

    def register(fn: BuiltinFn) -> BuiltinFn:
        signature = inspect.signature(fn)
        params = list(signature.parameters.values())[2:]  # after ctx, tables
        names = frozenset(p.name for p in params if p.kind is not inspect.Parameter.VAR_KEYWORD)
        required = frozenset(
            p.name for p in params if p.default is inspect.Parameter.empty and p.kind is not p.VAR_KEYWORD
        )
        var_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
        _BUILTINS[(package, name)] = Builtin(name, package, fn, vector, names, required, var_kwargs)
        return fn

    return register


def register_constant(name: str, value: Any, package: str) -> None:
    """A package member that is a value (``math.pi``)."""
    _CONSTANTS[(package, name)] = value


def load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    for module in BUILTIN_MODULES:
        importlib.import_module(module)
    try:
        stdlib = importlib.import_module(STDLIB_PACKAGE)
    except ModuleNotFoundError as exc:
        if exc.name != STDLIB_PACKAGE:
            raise
    else:
        for info in pkgutil.iter_modules(stdlib.__path__):
            importlib.import_module(f"{STDLIB_PACKAGE}.{info.name}")
    _loaded = True


def lookup(name: str, package: str | None = None) -> Builtin | None:
    load_builtins()
    return _BUILTINS.get((package, name))


def package_members(package: str) -> dict[str, Any] | None:
    """Every builtin and constant of a package, or None when nothing is registered under that name."""
    load_builtins()
    members: dict[str, Any] = {name: fn for (pkg, name), fn in _BUILTINS.items() if pkg == package}
    members.update({name: value for (pkg, name), value in _CONSTANTS.items() if pkg == package})
    return members or None


def require_tables(tables: Iterator[Table] | None, name: str) -> Iterator[Table]:
    """The piped-in tables, or a 400 when the function was called without ``|>``."""
    if tables is None:
        raise FluxError(f"{name}(): missing piped-in tables (use `... |> {name}()`)")
    return tables
