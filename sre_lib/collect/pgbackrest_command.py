"""Running pgBackRest for one stanza, as ``[sources.pgbackrest]`` says: which binary, as whom, with which config.

Two commands are run: ``info --output=json`` (what the repository holds) and ``check`` (whether archiving and the
repository work now). Each runs in a process group of its own under a time limit, so a hung pgBackRest (a
remote repository that never answers) is ended with everything it started. Output reaches messages only as one
line, with the environment's secrets redacted.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass

from sre_lib.config import PgBackRestSource
from sre_lib.errors import CollectionError
from sre_lib.secrets import environment_secrets, redact

__all__ = ["INSTALL_HINT", "CommandResult", "command_line", "first_line", "run_pgbackrest"]

INSTALL_HINT = "install pgBackRest (Debian: apt-get install pgbackrest) or set [sources.pgbackrest] binary"
_TERMINATE_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class CommandResult:
    """How one pgBackRest command ended: its exit code (None: stopped at the time limit), output and duration."""

    argv: tuple[str, ...]
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float
    timeout_seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def reason(self) -> str:
        """Why it failed, in one line: pgBackRest's error, else the exit code or the time limit."""
        if self.returncode is None:
            return f"no answer within {self.timeout_seconds:g} s (timed out, stopped)"
        line = first_line(self.stderr) or first_line(self.stdout)
        return line or f"exit code {self.returncode} with no message"


def command_line(source: PgBackRestSource, *args: str) -> tuple[str, ...]:
    """The argv that runs ``pgbackrest <args>`` for the configured stanza (prefix, binary, --config, --stanza)."""
    config = (f"--config={source.config}",) if source.config else ()
    return (*source.command_prefix, source.binary, *config, f"--stanza={source.stanza}", *args)


def first_line(text: str) -> str:
    """The first line that says something, secrets redacted, cut to 300 characters."""
    for line in text.splitlines():
        if line.strip():
            return redact(" ".join(line.split()), environment_secrets())[:300]
    return ""


def run_pgbackrest(source: PgBackRestSource, *args: str) -> CommandResult:
    """Run ``pgbackrest <args>`` within ``source.timeout_seconds``.

    A binary that cannot be started is a CollectionError (one line saying what to install or set); a command
    that fails or times out is a CommandResult for the caller to judge.
    """
    argv = command_line(source, *args)
    if not source.command_prefix and shutil.which(source.binary) is None:
        raise CollectionError(f"{source.binary}: not found on PATH: {INSTALL_HINT}", source="backups")
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # a timeout ends pgBackRest and its children, not only a sudo in front
        )
    except OSError as exc:
        raise CollectionError(f"{argv[0]}: cannot be run ({exc.strerror}): {INSTALL_HINT}", source="backups") from None
    try:
        stdout, stderr = process.communicate(timeout=source.timeout_seconds)
    except subprocess.TimeoutExpired:
        _stop_group(process)
        return CommandResult(argv, None, "", "", time.monotonic() - started, source.timeout_seconds)
    except BaseException:  # Ctrl-C, SIGTERM: nothing left running
        _stop_group(process)
        raise
    return CommandResult(argv, process.returncode, stdout, stderr, time.monotonic() - started, source.timeout_seconds)


def _stop_group(process: subprocess.Popen[str]) -> None:
    for sig, grace in ((signal.SIGTERM, _TERMINATE_GRACE_SECONDS), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.communicate(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue
    process.communicate()
