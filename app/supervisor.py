"""Child-process supervision for ``scriptcron up``: start, prefix output, watch, stop cleanly.

Each child runs in its own session (hence its own process group), so a Ctrl-C in the terminal
reaches only the supervisor, which then stops the children tier by tier (dependents first, a tier's
children concurrently): SIGTERM to the
child (a Celery worker then stops its own pool), SIGKILL after a grace period; then SIGTERM and
SIGKILL to whatever is left of its process group, and to any descendant that left the group (found
with psutil before the stop). Output lines are prefixed with the child's name.

A :class:`RunLock` (an flock'ed file in the data directory) keeps two supervisors off one data
directory, records the children's pids so a supervisor killed with SIGKILL leaves nothing behind the
next one cannot clean up, and is removed on a clean stop.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TextIO

import psutil

DEFAULT_GRACE_S = 10.0
_COLOURS = ("36", "33", "35", "32", "34", "31", "96", "93")


class SupervisorError(Exception):
    """Raised when a child cannot be started, or exits or fails its readiness check while starting."""


class LockedError(SupervisorError):
    """Raised when another live supervisor holds the data directory's lock."""


@dataclass
class ChildSpec:
    """What to run: a name for the log prefix, the command, extra environment variables."""

    name: str
    args: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    stop_tier: int = 0  # higher tiers stop first; children of one tier stop concurrently


class Child:
    """A running child process and the thread copying its output."""

    def __init__(self, spec: ChildSpec, proc: subprocess.Popen[bytes], reader: threading.Thread) -> None:
        self.spec = spec
        self.proc = proc
        self.reader = reader
        self.expected_exit = False

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None


class Supervisor:
    """Starts children, copies their output with a name prefix, and stops them all on request."""

    def __init__(
        self,
        *,
        out: TextIO | None = None,
        grace_s: float = DEFAULT_GRACE_S,
        colour: bool | None = None,
        base_env: Mapping[str, str] | None = None,
        on_change: Callable[[list[Child]], None] | None = None,
    ) -> None:
        self.out = out if out is not None else sys.stdout
        self.grace_s = grace_s
        self.colour = colour if colour is not None else bool(getattr(self.out, "isatty", lambda: False)())
        self.base_env = dict(base_env if base_env is not None else os.environ)
        self.children: list[Child] = []
        self.stop_requested = threading.Event()
        self._write_lock = threading.Lock()
        self._on_change = on_change
        self._width = 8

    # -- output ---------------------------------------------------------------------------------
    def _prefix(self, name: str, index: int) -> str:
        label = f"{name:<{self._width}}|"
        if self.colour:
            return f"\x1b[{_COLOURS[index % len(_COLOURS)]}m{label}\x1b[0m "
        return f"{label} "

    def emit(self, name: str, line: str, index: int = 0) -> None:
        """Write one line with a name prefix (thread-safe)."""
        with self._write_lock:
            self.out.write(self._prefix(name, index) + line.rstrip("\r\n") + "\n")
            self.out.flush()

    def _pump(self, name: str, index: int, stream: IO[bytes]) -> None:
        with contextlib.suppress(ValueError, OSError):
            for raw in iter(stream.readline, b""):
                self.emit(name, raw.decode("utf-8", "replace"), index)
        with contextlib.suppress(OSError):
            stream.close()

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self, spec: ChildSpec) -> Child:
        """Start ``spec`` in a new session with its output piped through the prefixer."""
        self._width = max(self._width, len(spec.name))
        env = {**self.base_env, "PYTHONUNBUFFERED": "1", **spec.env}
        try:
            proc = subprocess.Popen(
                list(spec.args),
                env=env,
                cwd=spec.cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise SupervisorError(f"cannot start {spec.name}: {exc}") from exc
        assert proc.stdout is not None
        index = len(self.children)
        reader = threading.Thread(
            target=self._pump, args=(spec.name, index, proc.stdout), name=f"out-{spec.name}", daemon=True
        )
        reader.start()
        child = Child(spec, proc, reader)
        self.children.append(child)
        self._changed()
        return child

    def run_once(self, spec: ChildSpec, timeout_s: float = 300.0) -> None:
        """Run a one-shot child (a migration) to completion; raise SupervisorError if it fails."""
        child = self.start(spec)
        child.expected_exit = True
        deadline = time.monotonic() + timeout_s
        while child.alive():
            if self.stop_requested.is_set() or time.monotonic() > deadline:
                self._stop_child(child)
                raise SupervisorError(f"{spec.name} interrupted")
            time.sleep(0.05)
        child.reader.join(5)
        self.children.remove(child)
        self._changed()
        if child.proc.returncode != 0:
            raise SupervisorError(f"{spec.name} failed with exit code {child.proc.returncode}")

    def wait_ready(self, child: Child, check: Callable[[], bool], timeout_s: float = 60.0) -> None:
        """Poll ``check`` until it is true; raise if the child exits, time runs out or stop is asked."""
        deadline = time.monotonic() + timeout_s
        while True:
            if not child.alive():
                raise SupervisorError(f"{child.name} exited with code {child.proc.returncode} while starting")
            if self.stop_requested.is_set():
                raise SupervisorError("stopped while starting")
            with contextlib.suppress(Exception):
                if check():
                    return
            if time.monotonic() > deadline:
                raise SupervisorError(f"{child.name} not ready after {timeout_s:.0f} s")
            time.sleep(0.1)

    def watch(self, poll_s: float = 0.2) -> Child | None:
        """Block until stop is requested (returns None) or a child exits on its own (returns it)."""
        while not self.stop_requested.wait(poll_s):
            for child in self.children:
                if not child.alive() and not child.expected_exit:
                    return child
        return None

    def request_stop(self) -> None:
        self.stop_requested.set()

    def install_signal_handlers(self) -> None:
        """SIGINT and SIGTERM ask for a stop (main thread only); a second one is ignored."""

        def handler(signum: int, frame: object) -> None:
            self.stop_requested.set()

        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)

    def stop_all(self) -> None:
        """Stop every child, highest ``stop_tier`` first, a tier's children concurrently; returns when
        none is left."""
        for tier in sorted({c.spec.stop_tier for c in self.children}, reverse=True):
            stoppers = [
                threading.Thread(target=self._stop_child, args=(child,), name=f"stop-{child.name}")
                for child in self.children
                if child.spec.stop_tier == tier
            ]
            for thread in stoppers:
                thread.start()
            for thread in stoppers:
                thread.join()
        self.children.clear()
        self._changed()

    def _stop_child(self, child: Child) -> None:
        started = time.monotonic()
        descendants = _descendants(child.pid)
        if child.alive():
            # The leader first: a Celery worker then shuts its pool down itself (warm shutdown).
            child.proc.terminate()
            try:
                child.proc.wait(self.grace_s)
            except subprocess.TimeoutExpired:
                self.emit(child.name, f"did not stop within {self.grace_s:.0f} s; killing")
        # Then the rest of the group, politely and briefly, then SIGKILL for the group and strays.
        remaining = [p for p in descendants if _running(p)]
        if remaining:
            _signal_group(child.pid, signal.SIGTERM)
            psutil.wait_procs(remaining, timeout=min(self.grace_s, 2.0))
        _signal_group(child.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.proc.wait(5)
        _kill_all(descendants)
        child.reader.join(5)
        self.emit(child.name, f"stopped in {time.monotonic() - started:.1f} s")

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change(list(self.children))


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return list(psutil.Process(pid).children(recursive=True))
    except psutil.Error:
        return []


def _kill_all(processes: list[psutil.Process]) -> None:
    for proc in processes:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(processes, timeout=5)


class RunLock:
    """An exclusive, flock'ed pid file; it lists the children so a successor can reap them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> list[int]:
        """Take the lock; reap children a dead predecessor left; return their pids."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = self.path.read_text().split("\n", 1)[0].strip() or "?"
            raise LockedError(
                f"another scriptcron up (pid {holder}) is using {self.path.parent}; stop it first"
            ) from None
        self._fd = fd
        stale = os.read(fd, 65536).decode(errors="replace")
        reaped = reap_stale(stale)
        self.record([])
        return reaped

    def record(self, children: list[Child]) -> None:
        """Rewrite the file: our pid, then one ``pid create_time name`` line per child."""
        if self._fd is None:
            return
        lines = [str(os.getpid())]
        for child in children:
            with contextlib.suppress(psutil.Error):
                lines.append(f"{child.pid} {psutil.Process(child.pid).create_time()} {child.name}")
        data = ("\n".join(lines) + "\n").encode()
        os.lseek(self._fd, 0, os.SEEK_SET)
        os.ftruncate(self._fd, 0)
        os.write(self._fd, data)

    def release(self) -> None:
        """Remove the file and drop the lock."""
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None


def reap_stale(content: str) -> list[int]:
    """Kill the process groups listed by a dead supervisor's lock file (same pid and start time only)."""
    reaped = []
    for line in content.splitlines()[1:]:
        parts = line.split()
        if len(parts) < 2:
            continue
        try:
            pid, created = int(parts[0]), float(parts[1])
            proc = psutil.Process(pid)
            if abs(proc.create_time() - created) > 0.01:
                continue
        except (ValueError, psutil.Error):
            continue
        victims = [proc, *_descendants(pid)]
        _signal_group(pid, signal.SIGKILL)
        _kill_all(victims)
        reaped.append(pid)
    return reaped
