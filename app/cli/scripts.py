"""``scriptcron scripts ...``: manage and invoke InfluxDB invocable scripts, with the influx CLI's
conventions (``--host``/``INFLUX_HOST``, ``--token``/``INFLUX_TOKEN``, ``--org``/``INFLUX_ORG``).

Exit codes: 0 success, 1 a server or network error (the server's code and message on stderr),
2 a usage error (including a missing host or token).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import typer

from app import constants
from app.cli import output
from app.influx import Script, ScriptCreate, ScriptLanguage, ScriptsClient, ScriptUpdate
from app.influx.errors import InfluxError, ScriptRuntimeError

scripts_app = typer.Typer(
    name="scripts",
    help="Create, list, update, delete and invoke InfluxDB invocable scripts.",
    no_args_is_help=True,
)

LIST_COLUMNS = ("id", "name", "language", "description", "updatedAt")

HostOpt = Annotated[
    str | None,
    typer.Option("--host", envvar="INFLUX_HOST", help="InfluxDB URL, e.g. http://localhost:8086."),
]
TokenOpt = Annotated[
    str | None,
    typer.Option("--token", "-t", envvar="INFLUX_TOKEN", help="InfluxDB API token.", show_default=False),
]
OrgOpt = Annotated[
    str | None,
    typer.Option("--org", "-o", envvar="INFLUX_ORG", help="Organization (accepted; the token decides it)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def register(app: typer.Typer) -> None:
    app.add_typer(scripts_app, name="scripts")


def make_client(host: str, token: str) -> ScriptsClient:
    """The client every command uses (tests replace this function to inject a mock transport)."""
    return ScriptsClient(host, token)


@contextlib.contextmanager
def _connect(host: str | None, token: str | None) -> Iterator[ScriptsClient]:
    """Open a client for one command; map its errors to ``error: ...`` and exit codes 1/2."""
    if not host:
        output.usage_error("no InfluxDB host: pass --host or set INFLUX_HOST (e.g. http://localhost:8086)")
    if not token:
        output.usage_error("no InfluxDB token: pass --token or set INFLUX_TOKEN")
    try:
        client = make_client(host, token)
    except ValueError as exc:
        output.usage_error(f"--host / INFLUX_HOST: {exc}")
    try:
        with client:
            yield client
    except InfluxError as exc:
        output.fail(exc.message, _error_label(exc))


def _error_label(exc: InfluxError) -> str | None:
    """The server's code; else a short label for errors that carry none."""
    if exc.code:
        return exc.code
    if isinstance(exc, ScriptRuntimeError):
        return "script failed"
    return f"HTTP {exc.status}" if exc.status else None


def _script_record(script: Script) -> dict[str, Any]:
    """The script's fields in display order, id first, in the contract's JSON names."""
    data = script.to_json()
    order = ("id", "name", "description", "language", "orgID", "url", "createdAt", "updatedAt", "script")
    return {key: data.get(key) for key in order}


def _read_script_text(file: Path | None) -> str:
    if file is not None and str(file) != "-":
        try:
            return file.read_text(encoding="utf-8")
        except OSError as exc:
            output.usage_error(f"--file: cannot read {file}: {exc.strerror or exc}")
    if file is None and sys.stdin.isatty():
        output.usage_error("no script text: pass --file FILE or pipe the script on stdin")
    return sys.stdin.read()


@scripts_app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", "-n", help="Script name, unique in the organization.")],
    description: Annotated[str, typer.Option("--description", "-d", help="Script description.")] = "",
    language: Annotated[ScriptLanguage, typer.Option("--language", help="Script language.")] = (
        ScriptLanguage.FLUX
    ),
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="File with the script text ('-' or absent: stdin).")
    ] = None,
    as_json: JsonOpt = False,
    host: HostOpt = None,
    token: TokenOpt = None,
    org: OrgOpt = None,
) -> None:
    """Create a script and print it (id first)."""
    text = _read_script_text(file)
    if not text.strip():
        output.usage_error("the script text is empty (--file or stdin)")
    if not name.strip():
        output.usage_error("--name: must not be empty")
    with _connect(host, token) as client:
        body = ScriptCreate(name=name, description=description, script=text, language=language)
        script = client.create(body)
    output.print_record(_script_record(script), as_json=as_json)


@scripts_app.command("list")
def list_scripts(
    limit: Annotated[
        int, typer.Option(min=0, max=constants.INFLUX_LIST_LIMIT_MAX, help="Scripts per page.")
    ] = constants.INFLUX_LIST_LIMIT_DEFAULT,
    offset: Annotated[int | None, typer.Option(min=0, help="Scripts to skip [default: 0].")] = None,
    name: Annotated[str | None, typer.Option(help="Only the script with exactly this name.")] = None,
    all_pages: Annotated[bool, typer.Option("--all", help="Every script, page after page.")] = False,
    as_json: JsonOpt = False,
    host: HostOpt = None,
    token: TokenOpt = None,
    org: OrgOpt = None,
) -> None:
    """List scripts: a table by default, JSON with --json."""
    if all_pages and offset is not None:
        output.usage_error("--all lists every script: it cannot be combined with --offset")
    with _connect(host, token) as client:
        if all_pages:
            scripts = list(client.iter_all(name=name, page_size=constants.INFLUX_LIST_LIMIT_MAX))
        else:
            scripts = client.list(offset=offset or 0, limit=limit, name=name)
    output.print_rows([s.to_json() for s in scripts], as_json=as_json, columns=LIST_COLUMNS)


@scripts_app.command("get")
def get(
    script_id: Annotated[str, typer.Argument(metavar="ID", help="Script ID.")],
    as_json: JsonOpt = False,
    host: HostOpt = None,
    token: TokenOpt = None,
    org: OrgOpt = None,
) -> None:
    """Print one script."""
    with _connect(host, token) as client:
        script = client.get(script_id)
    output.print_record(_script_record(script), as_json=as_json)


@scripts_app.command("update")
def update(
    script_id: Annotated[str, typer.Argument(metavar="ID", help="Script ID.")],
    file: Annotated[Path | None, typer.Option("--file", "-f", help="New script text ('-': stdin).")] = None,
    description: Annotated[str | None, typer.Option("--description", "-d", help="New description.")] = None,
    as_json: JsonOpt = False,
    host: HostOpt = None,
    token: TokenOpt = None,
    org: OrgOpt = None,
) -> None:
    """Change a script's text and/or description (the name cannot change) and print it."""
    if file is None and description is None:
        output.usage_error("nothing to update: pass --file and/or --description")
    text = _read_script_text(file) if file is not None else None
    if text is not None and not text.strip():
        output.usage_error("--file: the script text is empty")
    with _connect(host, token) as client:
        script = client.update(script_id, ScriptUpdate(description=description, script=text))
    output.print_record(_script_record(script), as_json=as_json)


@scripts_app.command("delete")
def delete(
    script_id: Annotated[str, typer.Argument(metavar="ID", help="Script ID.")],
    host: HostOpt = None,
    token: TokenOpt = None,
    org: OrgOpt = None,
) -> None:
    """Delete a script (the server does not say whether it existed)."""
    with _connect(host, token) as client:
        client.delete(script_id)
    typer.echo(f"deleted {script_id}")


@scripts_app.command("params")
def params(
    script_id: Annotated[str, typer.Argument(metavar="ID", help="Script ID.")],
    as_json: JsonOpt = False,
    host: HostOpt = None,
    token: TokenOpt = None,
    org: OrgOpt = None,
) -> None:
    """Print the script's parameters and their types."""
    with _connect(host, token) as client:
        found = client.params(script_id)
    if as_json:
        output.print_json(found)
    else:
        rows = [{"name": k, "type": v} for k, v in sorted(found.items())]
        output.print_rows(rows, columns=("name", "type"))


_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")


def infer_value(text: str) -> Any:
    """``k=v`` values: an int, a float, ``true``/``false``, otherwise the string itself."""
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text) and math.isfinite(value := float(text)):
        return value
    if text.lower() in {"true", "false"}:
        return text.lower() == "true"
    return text


def parse_params(pairs: list[str], params_json: str | None) -> dict[str, Any]:
    """``--params-json`` first, then each ``--param`` (``k=v`` inferred, ``k:=JSON`` as is) over it."""
    result: dict[str, Any] = {}
    if params_json is not None:
        try:
            loaded = json.loads(params_json)
        except ValueError as exc:
            output.usage_error(f"--params-json: not valid JSON: {exc}")
        if not isinstance(loaded, dict):
            output.usage_error('--params-json: must be a JSON object, e.g. \'{"bucket": "air"}\'')
        result.update(loaded)
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            output.usage_error(f"--param {pair!r}: expected NAME=VALUE or NAME:=JSON")
        if key.endswith(":"):
            key = key[:-1]
            try:
                value = json.loads(raw)
            except ValueError as exc:
                output.usage_error(f"--param {key}: not valid JSON after ':=': {exc}")
        else:
            value = infer_value(raw)
        if not key:
            output.usage_error(f"--param {pair!r}: the name is empty")
        result[key] = value
    return result


@contextlib.contextmanager
def _open_output(path: Path | None) -> Iterator[BinaryIO]:
    """stdout, or a temporary file beside ``path`` renamed onto it only when the block succeeds."""
    if path is None or str(path) == "-":
        stream = typer.get_binary_stream("stdout")
        yield stream
        stream.flush()
        return
    target = path.expanduser()
    try:
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    except OSError as exc:
        output.usage_error(f"--output: cannot write in {target.parent}: {exc.strerror or exc}")
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


@scripts_app.command("invoke")
def invoke(
    script_id: Annotated[str, typer.Argument(metavar="ID", help="Script ID.")],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="NAME=VALUE (types inferred) or NAME:=JSON. Repeatable."),
    ] = None,
    params_json: Annotated[
        str | None, typer.Option("--params-json", help="All params as one JSON object.")
    ] = None,
    output_file: Annotated[
        Path | None,
        typer.Option("--output", help="Write the CSV here (atomically) instead of stdout."),
    ] = None,
    host: HostOpt = None,
    token: TokenOpt = None,
    org: OrgOpt = None,
) -> None:
    """Invoke a script and stream its CSV to stdout or to --output (no partial file on failure)."""
    values = parse_params(param or [], params_json)
    with _connect(host, token) as client, _open_output(output_file) as sink:
        size = 0
        with client.invoke(script_id, values) as result:
            for chunk in result.iter_bytes():
                sink.write(chunk)
                size += len(chunk)
    if output_file is not None and str(output_file) != "-":
        typer.echo(f"wrote {size} bytes to {output_file}", err=True)
