"""Invoke: parse a Flux script, check its params, run it and stream the CSV."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from app.emulator.flux import ast
from app.emulator.flux.csvout import stream_csv
from app.emulator.flux.errors import MissingParamsError
from app.emulator.flux.interpreter import Interpreter
from app.emulator.flux.params import infer_params, used_params
from app.emulator.flux.parser import parse
from app.emulator.flux.registry import Context
from app.emulator.flux.values import Time
from app.emulator.storage import DataStore

__all__ = ["infer_params", "prepare_invoke", "run_script"]


def check_params(program: ast.Program, params: dict[str, Any]) -> None:
    missing = sorted(name for name in used_params(program) if name not in params)
    if missing:
        raise MissingParamsError(missing)


def run_script(
    script: str,
    params: dict[str, Any],
    *,
    data: DataStore,
    org_id: str,
    now_ns: int,
    error_after_rows: int | None = None,
) -> Iterator[bytes]:
    """The CSV chunks of a script (lazy: nothing runs until the first chunk is pulled)."""
    program = parse(script)
    check_params(program, params)
    ctx = Context(now=Time(now_ns), data=data, org_id=org_id, params=dict(params))
    results = Interpreter(ctx).run(program)
    return stream_csv(results, error_after_rows)


def prepare_invoke(
    script: str,
    params: dict[str, Any],
    *,
    data: DataStore,
    org_id: str,
    now_ns: int,
    error_after_rows: int | None = None,
) -> Iterator[bytes]:
    """Run far enough to produce the first chunk, so that an error before any row raises here (the
    server answers a JSON error) rather than inside the 200 stream."""
    chunks = run_script(
        script, params, data=data, org_id=org_id, now_ns=now_ns, error_after_rows=error_after_rows
    )
    first = next(chunks, None)
    if first is None:
        return iter(())
    return itertools.chain([first], chunks)
