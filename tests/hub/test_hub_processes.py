"""The hub's process rules without the whole hub: a child dies with a SIGKILLed supervisor, `hub down` ends
what is recorded, ports and config keys are planned as promised."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sre_lib.hub.hub_settings import PORT_NAMES, plan_ports, set_toml_keys
from sre_lib.hub.processes import HubError, Supervisor, kill_recorded

SUPERVISOR = """
import sys, time
from pathlib import Path
from sre_lib.hub.processes import Supervisor
supervisor = Supervisor(Path(sys.argv[1]))
child = supervisor.start("sleeper", ["sleep", "600"], Path(sys.argv[1]) / "sleeper.log")
print(child.pid, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_child_dies_with_a_supervisor_killed_by_sigkill(tmp_path: Path) -> None:
    with subprocess.Popen([sys.executable, "-c", SUPERVISOR, str(tmp_path)], stdout=subprocess.PIPE, text=True) as sup:
        try:
            child_pid = int(sup.stdout.readline())  # type: ignore[union-attr]
            assert _alive(child_pid)
            os.kill(sup.pid, signal.SIGKILL)
            sup.wait(10)
            assert _wait_gone(child_pid), f"child {child_pid} outlived its SIGKILLed supervisor"
        finally:
            sup.kill()


def test_kill_recorded_ends_what_a_crash_left(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path)
    child = supervisor.start("sleeper", ["sleep", "600"], tmp_path / "sleeper.log")
    assert "sleeper" in (tmp_path / "pids").read_text()
    assert kill_recorded(tmp_path) == ["sleeper"]
    child.process.wait(10)
    assert not (tmp_path / "pids").exists()
    assert kill_recorded(tmp_path) == []  # nothing left: nothing to do


def test_a_service_that_fails_to_start_is_named_with_its_log(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path)
    port = plan_ports(0)["pg-1"]
    with pytest.raises(HubError, match=r"broken failed to start: .*exited with code 3.*no such thing"):
        supervisor.start("broken", ["sh", "-c", "echo no such thing >&2; exit 3"], tmp_path / "b.log", port=port)
    supervisor.stop_all()


def test_ports_from_a_base_or_free(tmp_path: Path) -> None:
    free = plan_ports(0)
    assert set(free) == set(PORT_NAMES) and len(set(free.values())) == len(PORT_NAMES)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        base = taken.getsockname()[1]
        with pytest.raises(HubError, match=rf"port {base} \(for nginx-https\) is taken"):
            plan_ports(base)
    with pytest.raises(HubError, match="--base-port: expected 0 or a port from 1024"):
        plan_ports(80)


def test_set_toml_keys_replaces_in_its_section_only() -> None:
    text = "[sources.postgres]\nport = 5432  # default\n\n[sources.redis]\nport = 1\n"
    out = set_toml_keys(text, "sources.postgres", {"port": "6000", "password_file": '"/x"'})
    assert out == '[sources.postgres]\nport = 6000\npassword_file = "/x"\n\n[sources.redis]\nport = 1\n'
    assert "[sources.prometheus]\nurl = " in set_toml_keys(text, "sources.prometheus", {"url": '"http://h"'})
