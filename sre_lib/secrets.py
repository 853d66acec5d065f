"""Keeping secrets out of messages, logs and stored text.

Two tools: ``redact`` for messages (errors, log lines, HTTP bodies echoed back), by patterns and by the known
secret values in every form a client sends them (raw, percent-encoded, inside base64 Basic credentials); and
``redact_statement`` for SQL text a server shows (pg_stat_statements, pg_stat_activity), read with PostgreSQL's
own scanner (pglast's binding of libpg_query) so that no quoting, comment or escape hides a secret from it.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from pglast import parser as pg_parser

from sre_lib.errors import ConfigError

REDACTED = "***"

# PASSWORD, maybe a comment or "=", then any SQL string literal: '...', E'...' (backslash escapes), U&'...',
# $tag$...$tag$, "...".
_PASSWORD_LITERAL = re.compile(
    r"(?is)(password(?:\s|/\*.*?\*/|--[^\n]*\n)*(?:=\s*)?)"
    r"('(?:[^']|'')*'|E'(?:[^'\\]|\\.|'')*'|U&'(?:[^']|'')*'|\$\$.*?\$\$|\$(?P<tag>[a-z_]\w*)\$.*?\$(?P=tag)\$|\"[^\"]*\")"
)
_URL_PASSWORD = re.compile(r"(?i)(\w+://[^:/@\s]*:)([^@\s]+)(@)")
# Not a placeholder ($1 in a statement pg_stat_statements normalised): that is no secret, and the text must stay.
_DSN_PASSWORD = re.compile(r"(?i)(password\s*=\s*)(?!\$\d+(?:[\s),;]|$))('(?:[^'\\]|\\.)*'|\S+)")
_DSN_PASSWORD_ANY = re.compile(r"(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)")  # in a DSN: never a placeholder
# An HTTP credential header as a server may echo it: "Authorization: Basic ...", {'Authorization': 'Bearer ...'}.
_CREDENTIAL_HEADER = re.compile(
    r"(?i)\b((?:proxy-)?authorization|x-api-key|api[-_]?key|x-auth-token|(?:set-)?cookie)([\"']?\s*[:=]\s*[\"']?)"
    r"(?:(basic|bearer|digest|token|negotiate)\s+)?[^\s\"',;}]+"
)
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9\-._~+/]{8,}=*")
_BASIC = re.compile(r"(?i)\b(basic\s+)([A-Za-z0-9+/]{4,}={0,2})")
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{8,}={0,2}")
_LOWER_HEX = re.compile(r"%[0-9A-F]{2}")


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Text with secrets replaced by ***: the known secret values (also percent-encoded, percent-decoded, or
    inside base64, as HTTP Basic credentials carry a password), credential headers, URL passwords,
    ``password=...`` and ``PASSWORD '...'``."""
    known = _secret_forms(secrets)
    for secret in sorted(known, key=len, reverse=True):  # a longer form first: it may contain a shorter one
        text = text.replace(secret, REDACTED)
    if known:
        text = _BASE64_RUN.sub(lambda match: _unless_encoding(match.group(0), known), text)
    text = _CREDENTIAL_HEADER.sub(lambda match: f"{match.group(1)}{match.group(2)}{_scheme(match)}{REDACTED}", text)
    text = _BASIC.sub(lambda match: _basic_redacted(match), text)
    text = _BEARER.sub(rf"\1{REDACTED}", text)
    text = _URL_PASSWORD.sub(rf"\1{REDACTED}\3", text)
    text = _PASSWORD_LITERAL.sub(rf"\1'{REDACTED}'", text)
    return _DSN_PASSWORD.sub(rf"\1{REDACTED}", text)


def _secret_forms(secrets: Iterable[str | None]) -> set[str]:
    """Each secret as given, percent-decoded (a URL's password is percent-encoded) and percent-encoded (with
    upper- or lower-case hex digits)."""
    forms: set[str] = set()
    for secret in secrets:
        if secret:
            encoded = quote(unquote(secret), safe="")
            forms |= {secret, unquote(secret), encoded, _LOWER_HEX.sub(lambda hexa: hexa.group(0).lower(), encoded)}
    return {form for form in forms if form}


def _unless_encoding(run: str, secrets: set[str]) -> str:
    """*** for a base64 run whose decoded text holds a secret (``user:password`` of Basic auth), else the run."""
    for alphabet in (None, b"-_"):
        try:
            padded = run.rstrip("=") + "=" * (-len(run.rstrip("=")) % 4)
            decoded = base64.b64decode(padded, altchars=alphabet, validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            continue
        if any(secret in decoded for secret in secrets):
            return REDACTED
    return run


def _scheme(match: re.Match[str]) -> str:
    return f"{match.group(3)} " if match.group(3) else ""


def _basic_redacted(match: re.Match[str]) -> str:
    """``Basic ***`` when the word after "Basic" is base64 of ``user:password``; ordinary prose stays."""
    try:
        decoded = base64.b64decode(match.group(2), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return match.group(0)
    return f"{match.group(1)}{REDACTED}" if ":" in decoded and decoded.isprintable() else match.group(0)


# ---------------------------------------------------------------------------------------------- SQL text
# The rule, for an auditor: a statement that mentions a secret-bearing word anywhere (in its words, comments or
# literals, looked for again inside each literal's decoded text, at any depth of nesting) keeps its SQL words
# and placeholders, but every constant (string, dollar-quoted, E'', U&'', bit, number) and every comment is
# replaced by ***. Text the scanner cannot read (a statement cut short, bad escapes) counts as such a statement,
# and its unreadable rest is replaced whole. In text the grammar refuses (a session's failed statement), where a
# password may stand unquoted, the word after a password word goes too. Other statements are stored as they are.
_SECRET_STEMS = (
    "passw", "pwd", "secret", "token", "credential", "conninfo", "connection", "apikey", "api_key", "privatekey",
    "private_key", "accesskey", "access_key", "authoriz", "crypt", "hmac", "digest", "dblink", "uescape",
)  # fmt: skip
_SECRET_WORDS = re.compile(r"\b(?:mapping|options|program|dsn)\b|\w://[^\s/@]*:[^\s@]*@")  # in lower case
_PASSWORD_WORD = re.compile(r"(?i)passw|pwd")
# A quote, a backslash, "U&" or a dollar quote ($1 is a placeholder): without them no literal can hide a word.
_MAY_HIDE = re.compile(r"['\"\\&]|\$(?!\d)")
_CONSTANTS = frozenset({"SCONST", "USCONST", "BCONST", "XCONST", "ICONST", "FCONST"})
_COMMENTS = frozenset({"C_COMMENT", "SQL_COMMENT"})
_NESTED = frozenset({"SCONST", "USCONST", "UIDENT"})  # whose decoded text may hold more SQL, or hide a word
_MAX_NESTING = 8
_BACKSLASH_ESCAPE = re.compile(r"''|\\(x[0-9A-Fa-f]{1,2}|[0-7]{1,3}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)", re.S)
_UNICODE_ESCAPE = re.compile(r"''|\\(\\|[0-9A-Fa-f]{4}|\+[0-9A-Fa-f]{6})")
_SIMPLE_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def redact_statement(text: str, secrets: Iterable[str | None] = (), every_constant: bool = False) -> str:
    """A SQL text (pg_stat_statements' query, a session's query, an index definition) fit to store and show:
    the rule above, then the known secret values replaced wherever they are. ``every_constant`` treats every
    text as mentioning a secret: for pg_stat_activity's raw texts, whose constants (a customer's data, a
    password in a statement that names none) pg_stat_statements would have made placeholders."""
    if every_constant or _has_secret_word(text) or _MAY_HIDE.search(text):
        tokens, readable = _scan(text)
        unreadable = bool(text[readable:].strip())
        if every_constant or unreadable or _mentions_secret(text, tokens=tokens):
            text = _constants_replaced(text, tokens, readable, strict=unreadable or not _parses(text))
    for secret in sorted(_secret_forms(secrets), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def _scan(text: str) -> tuple[list[pg_parser.Token], int]:
    """The scanner's tokens of the readable start of ``text``, and where that start ends. An error (an
    unterminated literal, comment or quoted name; a bad escape) ends the readable part where it is reported."""
    end = len(text)
    while end > 0:
        try:
            tokens = list(pg_parser.scan(text[:end]))
        except pg_parser.ParseError as exc:
            where = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else -1
            if not 0 <= where < end:
                return [], 0
            end = where
            continue
        # Between tokens only white space: anything else (a character the scanner skipped) is not read.
        position = 0
        for index, token in enumerate(tokens):
            if text[position : token.start].strip():
                return tokens[:index], position
            position = token.end + 1
        return tokens, end if not text[position:end].strip() else position
    return [], 0


def _has_secret_word(text: str) -> bool:
    lowered = text.lower()
    return any(stem in lowered for stem in _SECRET_STEMS) or _SECRET_WORDS.search(lowered) is not None


def _mentions_secret(text: str, depth: int = 0, tokens: list[pg_parser.Token] | None = None) -> bool:
    """Whether a secret-bearing word is in the text, or in the decoded text of a literal in it, at any depth."""
    if _has_secret_word(text):
        return True
    if not _MAY_HIDE.search(text):
        return False
    if depth >= _MAX_NESTING:
        return True
    if tokens is None:
        tokens, _ = _scan(text)
    return any(
        _mentions_secret(_decoded(text[token.start : token.end + 1]), depth + 1)
        for token in tokens
        if token.name in _NESTED
    )


def _decoded(literal: str) -> str:
    """The value a string literal or quoted name stands for: its escapes and doubled quotes undone."""
    if literal.startswith("$"):
        opening = literal.index("$", 1) + 1
        return literal[opening : len(literal) - opening]
    opening = next(position for position, character in enumerate(literal) if character in "'\"")
    prefix, quote_mark, body = literal[:opening], literal[opening], literal[opening + 1 : -1]
    if prefix.upper() == "E":
        return _BACKSLASH_ESCAPE.sub(_backslash_escape, body)
    if prefix.upper() == "U&":
        return _UNICODE_ESCAPE.sub(_unicode_escape, body)
    return body.replace(quote_mark * 2, quote_mark)


def _backslash_escape(match: re.Match[str]) -> str:
    escape = match.group(1)
    if escape is None:
        return "'"
    if escape[0] == "x":
        return chr(int(escape[1:], 16))
    if escape[0] in "01234567":
        return chr(int(escape, 8) & 0xFF)
    if escape[0] in "uU" and len(escape) > 1:
        return _character(int(escape[1:], 16))
    return _SIMPLE_ESCAPES.get(escape, escape)


def _unicode_escape(match: re.Match[str]) -> str:
    escape = match.group(1)
    if escape is None:
        return "'"
    return "\\" if escape == "\\" else _character(int(escape.lstrip("+"), 16))


def _character(code: int) -> str:
    return chr(code) if code <= 0x10FFFF else "\ufffd"


def _parses(text: str) -> bool:
    """Whether PostgreSQL's grammar accepts the text: then a secret in it can only be a constant."""
    try:
        pg_parser.split(text, with_parser=True, only_slices=True)  # parses, but builds no syntax tree
    except pg_parser.ParseError:
        return False
    return True


def _constants_replaced(text: str, tokens: list[pg_parser.Token], readable: int, strict: bool) -> str:
    """Every constant and comment as ***, an unreadable rest as ***; with ``strict`` (text the grammar does not
    accept, where a password may stand unquoted) also the word run that follows a password word."""
    bare = _bare_secrets(text, tokens) if strict else set()
    pieces: list[str] = []
    position = 0
    for index, token in enumerate(tokens):
        pieces.append(text[position : token.start])
        original = text[token.start : token.end + 1]
        if token.name in _CONSTANTS:
            pieces.append(f"'{REDACTED}'" if token.name in ("SCONST", "USCONST") else REDACTED)
        elif token.name == "C_COMMENT":
            pieces.append(f"/* {REDACTED} */")
        elif token.name == "SQL_COMMENT":
            pieces.append(f"-- {REDACTED}")
        elif index in bare:
            pieces.append(REDACTED if index - 1 not in bare else "")
        else:
            pieces.append(original)
        position = token.end + 1
    pieces.append(text[position:readable])
    if text[readable:].strip():
        pieces.append(REDACTED)
    return "".join(pieces)


def _bare_secrets(text: str, tokens: list[pg_parser.Token]) -> set[int]:
    """Indexes of the tokens that may spell an unquoted password: after a password word (and any comment, "="
    or ":"), the run of tokens with no space between them, unless it is a placeholder, NULL, or a call."""
    found: set[int] = set()
    for index, token in enumerate(tokens):
        if token.name in _COMMENTS or not _PASSWORD_WORD.search(text[token.start : token.end + 1]):
            continue
        following = index + 1
        while following < len(tokens) and (
            tokens[following].name in _COMMENTS or tokens[following].name in ("ASCII_61", "ASCII_58")
        ):
            following += 1
        if following >= len(tokens) or tokens[following].name in ("PARAM", "NULL_P"):
            continue
        run_end = following
        while run_end + 1 < len(tokens) and tokens[run_end + 1].start == tokens[run_end].end + 1:
            run_end += 1
        if run_end > following and tokens[following + 1].name == "ASCII_40":  # name( : a function call
            continue
        found.update(range(following, run_end + 1))
    return found


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
