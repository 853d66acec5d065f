"""Keeping secrets out of messages, logs and stored text."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

from sre_lib.errors import ConfigError

# PASSWORD followed by any SQL string literal: '...', E'...' (backslash escapes), U&'...', $tag$...$tag$, "...".
_PASSWORD_LITERAL = re.compile(
    r"(?is)(password\s*(?:=\s*)?)"
    r"('(?:[^']|'')*'|E'(?:[^'\\]|\\.|'')*'|U&'(?:[^']|'')*'|\$\$.*?\$\$|\$(?P<tag>[a-z_]\w*)\$.*?\$(?P=tag)\$|\"[^\"]*\")"
)
_URL_PASSWORD = re.compile(r"(?i)(\w+://[^:/@\s]*:)([^@\s]+)(@)")
# Not a placeholder ($1 in a statement pg_stat_statements normalised): that is no secret, and the text must stay.
_DSN_PASSWORD = re.compile(r"(?i)(password\s*=\s*)(?!\$\d+(?:[\s),;]|$))('(?:[^'\\]|\\.)*'|\S+)")
_DSN_PASSWORD_ANY = re.compile(r"(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)")  # in a DSN: never a placeholder


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Text with known secret values, URL passwords, `password=...` and `PASSWORD '...'` replaced by ***."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _URL_PASSWORD.sub(r"\1***\3", text)
    text = _PASSWORD_LITERAL.sub(r"\1'***'", text)
    return _DSN_PASSWORD.sub(r"\1***", text)


#: Environment variables whose values are secrets, or hold one (a DSN or URL with a password).
SECRET_ENV_VARS = ("PGPASSWORD", "SRE_PG_DSN", "SRE_PROMETHEUS_TOKEN", "SRE_PROMETHEUS_URL", "SRE_REDIS_URL")


def environment_secrets(env: Mapping[str, str] | None = None) -> list[str]:
    """The secret values set in the environment: PGPASSWORD and the token whole, and the password inside a DSN
    or URL (the rest of a URL is not secret, and must stay usable in messages)."""
    env = os.environ if env is None else env
    found: list[str] = []
    for name in SECRET_ENV_VARS:
        value = env.get(name)
        if not value:
            continue
        if name in ("PGPASSWORD", "SRE_PROMETHEUS_TOKEN"):
            found.append(value)
            continue
        found += [match.group(2) for match in _URL_PASSWORD.finditer(value)]
        found += [match.group(2).strip("'") for match in _DSN_PASSWORD_ANY.finditer(value)]
    return [secret for secret in found if secret]


def read_secret_file(path: str, what: str) -> str:
    """The first line of a file that holds only a secret (outside the repository)."""
    try:
        return Path(path).expanduser().read_text(encoding="utf-8").splitlines()[0].strip()
    except (OSError, IndexError):
        raise ConfigError(f"{what}: cannot read a secret from password_file {path}") from None


def url_location(url: str, what: str, schemes: Iterable[str]) -> str:
    """``scheme://host[:port][/path]`` of a URL, without credentials, query or fragment: fit for messages.

    Raises ConfigError naming ``what`` but never showing the URL, which may hold a password: in
    ``http://user:pa/ss@host``, an unencoded "/" makes part of the password read as the host and port.
    """
    allowed = tuple(schemes)
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    # an unencoded "@" or "/" in the password leaves an "@" after the host, or makes two of them
    misread = parts.netloc.count("@") > 1 or "@" in f"{parts.path}{parts.query}{parts.fragment}"
    if parts.scheme not in allowed or port == -1 or misread or not (parts.hostname or parts.scheme == "unix"):
        raise ConfigError(f"{what}: expected {url_expectation(allowed)}")
    netloc = f"{parts.hostname or ''}{f':{port}' if port else ''}"
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


def url_expectation(schemes: Iterable[str]) -> str:
    """What ``url_location`` expects, in words, for messages that name the setting."""
    allowed = tuple(schemes)
    return (
        f"a URL like {allowed[0]}://host:port (scheme {' or '.join(allowed)}), with any '/', '?', '#' or '@' in "
        "its password percent-encoded"
    )
