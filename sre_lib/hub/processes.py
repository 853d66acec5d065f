"""Child processes of the hub: each in its own process group, dying with the supervisor, recorded on disk.

Every child gets PR_SET_PDEATHSIG (set in ``preexec_fn``, which CPython runs after the setuid/setgid of
``Popen(user=..., group=...)``, since a credential change clears it), so a supervisor killed with SIGKILL still
takes its children with it. Note the signal follows the *thread* that started the child: start children from a
thread that lives as long as the hub (the main thread). Pids and process groups are also written to
``<state>/pids`` so that ``sre hub down`` can end what a crashed supervisor left.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import pwd
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sre_lib.errors import SreError

__all__ = [
    "Child",
    "HubError",
    "Supervisor",
    "free_port",
    "kill_recorded",
    "log_tail",
    "postgres_user",
    "wait_for_port",
]

PR_SET_PDEATHSIG = 1
PIDS_FILE = "pids"


class HubError(SreError):
    """The hub could not start, a service failed, or a fault could not be applied."""


def free_port() -> int:
    """A TCP port free on loopback now (the kernel's choice)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_user() -> pwd.struct_passwd | None:
    """The account PostgreSQL and pgBackRest run as: `postgres` when we are root (PostgreSQL refuses root)."""
    return pwd.getpwnam("postgres") if os.geteuid() == 0 else None


def _die_with_parent(death_signal: int, parent_pid: int) -> Callable[[], None]:
    def preexec() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, death_signal, 0, 0, 0)
        if os.getppid() != parent_pid:  # the supervisor died before prctl: no signal would ever come
            os._exit(1)

    return preexec


def log_tail(path: Path, lines: int = 5) -> str:
    """The last ``lines`` non-empty lines of a log, joined on one line (for a one-line error)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(kept) or "(empty log)"


def wait_for_port(port: int, process: subprocess.Popen | None, timeout: float, what: str) -> None:
    """Poll until 127.0.0.1:port accepts a connection; HubError if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise HubError(f"{what} exited with code {process.returncode} before listening on port {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise HubError(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


@dataclass
class Child:
    """One supervised process: its service name, port (0 if none), log and how to stop it politely."""

    name: str
    process: subprocess.Popen
    log: Path
    port: int = 0
    stop_signal: int = signal.SIGTERM

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None


@dataclass
class Supervisor:
    """Starts children, records them in ``<state>/pids``, and stops them in the reverse order."""

    state_dir: Path
    children: list[Child] = field(default_factory=list)

    def start(
        self,
        name: str,
        argv: Sequence[str],
        log: Path,
        *,
        port: int = 0,
        env: Mapping[str, str] | None = None,
        as_postgres: bool = False,
        stop_signal: int = signal.SIGTERM,
        death_signal: int = signal.SIGTERM,
        cwd: Path | None = None,
    ) -> Child:
        """Start ``argv`` with its output in ``log``; wait for ``port`` when given (HubError naming the log)."""
        account = postgres_user() if as_postgres else None
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as handle:
            if account:
                os.chown(log, account.pw_uid, account.pw_gid)
            process = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                process_group=0,
                user=account.pw_uid if account else None,
                group=account.pw_gid if account else None,
                extra_groups=[] if account else None,
                preexec_fn=_die_with_parent(death_signal, os.getpid()),
            )
        child = Child(name=name, process=process, log=log, port=port, stop_signal=stop_signal)
        self.children.append(child)
        self._record()
        if port:
            try:
                wait_for_port(port, process, timeout=60, what=name)
            except HubError as exc:
                raise HubError(f"{name} failed to start: {exc}; log {log}: {log_tail(log)}") from None
        return child

    def child(self, name: str) -> Child:
        for child in self.children:
            if child.name == name:
                return child
        raise HubError(f"no service {name!r} in this hub; services are: {', '.join(self.names())}")

    def names(self) -> list[str]:
        return [child.name for child in self.children]

    def stop(self, name: str, timeout: float = 15.0) -> None:
        """Stop one child (its whole process group), politely first, then with SIGKILL."""
        child = self.child(name)
        _stop_group(child, timeout)
        self.children.remove(child)
        self._record()

    def stop_all(self, timeout: float = 15.0) -> None:
        """Stop every child, the last started first (the app servers before PostgreSQL, and so on)."""
        for child in reversed(list(self.children)):
            _stop_group(child, timeout)
            self.children.remove(child)
        self._record()

    def _record(self) -> None:
        rows = [{"name": c.name, "pid": c.pid, "argv0": Path(str(c.process.args[0])).name} for c in self.children]
        target = self.state_dir / PIDS_FILE
        target.write_text(json.dumps({"supervisor": os.getpid(), "children": rows}, indent=1))


def _stop_group(child: Child, timeout: float) -> None:
    if child.running():
        with contextlib.suppress(ProcessLookupError):  # the leader only: a postmaster or nginx master ends its own
            os.kill(child.pid, child.stop_signal)
        try:
            child.process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.process.wait()
    with contextlib.suppress(ProcessLookupError, PermissionError):  # stragglers of the group (nginx workers)
        os.killpg(child.pid, signal.SIGKILL)


def kill_recorded(state_dir: Path) -> list[str]:
    """End every process group recorded in ``<state>/pids`` whose leader still runs the recorded program.

    Returns the names of the services it ended. Used by ``sre hub down`` after a supervisor crash.
    """
    path = state_dir / PIDS_FILE
    if not path.is_file():
        return []
    try:
        recorded = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    ended: list[str] = []
    for row in reversed(recorded.get("children", [])):
        pid = int(row["pid"])
        if not _runs(pid, str(row["argv0"])):
            continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        ended.append(str(row["name"]))
    deadline = time.monotonic() + 10
    while any(_runs(int(r["pid"]), str(r["argv0"])) for r in recorded.get("children", [])):
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    path.unlink(missing_ok=True)
    return ended


def _runs(pid: int, argv0: str) -> bool:
    """Whether ``pid`` is alive (not a zombie) and runs ``argv0`` (guards against a reused pid)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    state = status.rsplit(")", 1)[1].split()[0]
    return state != "Z" and argv0 in cmdline  # nginx rewrites its title: "nginx: master process /usr/sbin/nginx"
