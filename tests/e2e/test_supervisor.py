"""The supervisor behind ``scriptcron up``, driven with small dummy children."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from app.supervisor import ChildSpec, LockedError, RunLock, Supervisor, SupervisorError

PY = sys.executable

SLEEPER = "import time\nwhile True: time.sleep(0.1)"
STUBBORN = (
    "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('up', flush=True)\n" + SLEEPER
)
# A child that starts a grandchild in its own session (as a daemonising server might) and waits.
ESCAPER = (
    "import subprocess, sys, time\n"
    f"p = subprocess.Popen([sys.executable, '-c', {SLEEPER!r}], start_new_session=True)\n"
    "print(p.pid, flush=True)\n" + SLEEPER
)


def py(name: str, code: str) -> ChildSpec:
    return ChildSpec(name=name, args=[PY, "-c", code])


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_for(predicate, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


@pytest.fixture
def sup() -> Supervisor:
    supervisor = Supervisor(out=io.StringIO(), grace_s=1.0, colour=False)
    yield supervisor
    supervisor.stop_all()


def test_each_output_line_is_prefixed_with_the_child_name(sup: Supervisor) -> None:
    child = sup.start(py("api", "print('hello'); print('world')"))
    child.proc.wait(20)
    child.reader.join(5)
    lines = sup.out.getvalue().splitlines()
    assert lines == ["api     | hello", "api     | world"]


def test_stop_terminates_children_in_their_own_process_groups(sup: Supervisor) -> None:
    children = [sup.start(py(name, SLEEPER)) for name in ("redis", "api", "worker")]
    assert {os.getpgid(c.pid) for c in children} == {c.pid for c in children}
    sup.stop_all()
    assert all(gone(c.pid) for c in children)
    assert sup.children == []


def test_a_child_ignoring_sigterm_is_killed_after_the_grace_period(sup: Supervisor) -> None:
    child = sup.start(py("stubborn", STUBBORN))
    wait_for(lambda: "up" in sup.out.getvalue())
    sup.stop_all()
    assert gone(child.pid)
    assert "killing" in sup.out.getvalue()


def test_grandchildren_are_stopped_even_outside_the_process_group(sup: Supervisor) -> None:
    sup.start(py("escaper", ESCAPER))
    wait_for(lambda: sup.out.getvalue().strip() != "")
    grandchild = int(sup.out.getvalue().split("|")[1].split()[0])
    assert not gone(grandchild)
    sup.stop_all()
    assert gone(grandchild)


def test_watch_returns_the_child_that_exits_on_its_own(sup: Supervisor) -> None:
    sup.start(py("steady", SLEEPER))
    crashing = sup.start(py("crashing", "import sys; sys.exit(3)"))
    assert sup.watch(poll_s=0.05) is crashing
    assert crashing.proc.returncode == 3


def test_watch_returns_none_once_stop_is_requested(sup: Supervisor) -> None:
    sup.start(py("steady", SLEEPER))
    sup.request_stop()
    assert sup.watch(poll_s=0.05) is None


def test_a_failing_one_shot_step_is_an_error_naming_it(sup: Supervisor) -> None:
    with pytest.raises(SupervisorError, match="migrate failed with exit code 2"):
        sup.run_once(py("migrate", "import sys; sys.exit(2)"))
    assert sup.children == []


def test_wait_ready_fails_when_the_child_exits_while_starting(sup: Supervisor) -> None:
    child = sup.start(py("api", "import sys; sys.exit(1)"))
    with pytest.raises(SupervisorError, match="api exited with code 1 while starting"):
        sup.wait_ready(child, lambda: False, timeout_s=20)


def test_a_second_supervisor_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    first = RunLock(tmp_path / "up.lock")
    first.acquire()
    try:
        with pytest.raises(LockedError, match="another scriptcron up"):
            RunLock(tmp_path / "up.lock").acquire()
    finally:
        first.release()
    assert not (tmp_path / "up.lock").exists()


def test_children_left_by_a_killed_supervisor_are_reaped_by_the_next(tmp_path: Path) -> None:
    lock_path = tmp_path / "up.lock"
    script = textwrap.dedent(
        f"""
        import io, time
        from pathlib import Path
        from app.supervisor import ChildSpec, RunLock, Supervisor
        lock = RunLock(Path({str(lock_path)!r}))
        lock.acquire()
        sup = Supervisor(out=io.StringIO(), on_change=lock.record)
        child = sup.start(ChildSpec("sleeper", [{PY!r}, "-c", {SLEEPER!r}]))
        print(child.pid, flush=True)
        time.sleep(600)
        """
    )
    parent = subprocess.Popen([PY, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        orphan = int(parent.stdout.readline())
    finally:
        parent.kill()
        parent.wait()
    assert not gone(orphan)
    successor = RunLock(lock_path)
    try:
        assert successor.acquire() == [orphan]
    finally:
        successor.release()
    assert gone(orphan)


def test_sigint_to_a_supervising_process_stops_every_child(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        from app.supervisor import ChildSpec, Supervisor
        sup = Supervisor(grace_s=2)
        sup.install_signal_handlers()
        for name in ("a", "b"):
            child = sup.start(ChildSpec(name, [{PY!r}, "-c", {SLEEPER!r}]))
            print("child", child.pid, flush=True)
        print("ready", flush=True)
        sup.watch(0.05)
        sup.stop_all()
        print("stopped", flush=True)
        """
    )
    parent = subprocess.Popen([PY, "-c", script], stdout=subprocess.PIPE, text=True)
    pids = []
    try:
        for line in parent.stdout:
            if line.startswith("child"):
                pids.append(int(line.split()[1]))
            if line.startswith("ready"):
                break
        parent.send_signal(signal.SIGINT)
        rest = parent.communicate(timeout=30)[0]
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
    assert "stopped" in rest
    assert parent.returncode == 0
    assert len(pids) == 2
    assert all(gone(pid) for pid in pids)


def test_dependents_stop_before_what_they_depend_on(sup: Supervisor) -> None:
    sup.start(ChildSpec("redis", [PY, "-c", SLEEPER], stop_tier=0))
    sup.start(ChildSpec("api", [PY, "-c", SLEEPER], stop_tier=1))
    sup.start(ChildSpec("worker", [PY, "-c", SLEEPER], stop_tier=1))
    sup.stop_all()
    order = [line.split("|")[0].strip() for line in sup.out.getvalue().splitlines() if "stopped in" in line]
    assert order[-1] == "redis"
    assert set(order[:2]) == {"api", "worker"}
