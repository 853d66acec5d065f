"""Keeping secrets out of messages, logs and stored text."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from sre_lib.errors import ConfigError

_PASSWORD_LITERAL = re.compile(r"(?i)(password\s*(?:=\s*)?)('(?:[^']|'')*'|\"[^\"]*\")")
_URL_PASSWORD = re.compile(r"(?i)(\w+://[^:/@\s]*:)([^@\s]+)(@)")
_DSN_PASSWORD = re.compile(r"(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)")


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Text with known secret values, URL passwords, `password=...` and `PASSWORD '...'` replaced by ***."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _URL_PASSWORD.sub(r"\1***\3", text)
    text = _PASSWORD_LITERAL.sub(r"\1'***'", text)
    return _DSN_PASSWORD.sub(r"\1***", text)


def read_secret_file(path: str, what: str) -> str:
    """The first line of a file that holds only a secret (outside the repository)."""
    try:
        return Path(path).expanduser().read_text(encoding="utf-8").splitlines()[0].strip()
    except (OSError, IndexError):
        raise ConfigError(f"{what}: cannot read a secret from password_file {path}") from None
