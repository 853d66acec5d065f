"""Index definitions as ``pg_get_indexdef`` prints them, taken apart, and the redundant indexes among them.

Pure functions over text and frames (no warehouse): ``parse_indexdef`` reads one definition into an
``IndexDef``; ``find_duplicate_indexes`` finds, in a frame of index rows, each index another one makes
redundant. ``quote_identifier`` writes a name back as SQL needs it, for the actions the checks suggest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sre_lib.errors import DataError

__all__ = [
    "IndexDef",
    "find_duplicate_indexes",
    "parse_indexdef",
    "quote_identifier",
]

_IDENT = r'(?:"(?:[^"]|"")*"|[^\s".(),]+)'
_HEAD = re.compile(
    rf"""^\s*CREATE\s+(?P<unique>UNIQUE\s+)?INDEX\s+(?:CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?
    (?:(?:{_IDENT})\.)?(?P<name>{_IDENT})\s+ON\s+(?P<only>ONLY\s+)?
    (?:(?P<schema>{_IDENT})\.)?(?P<table>{_IDENT})\s+USING\s+(?P<method>\w+)\s*(?=\()""",
    re.IGNORECASE | re.VERBOSE,
)


@dataclass(frozen=True)
class IndexDef:
    """An index definition as pg_get_indexdef prints it, taken apart. Column elements keep their text
    (expression, COLLATE, operator class, ASC/DESC, NULLS FIRST/LAST) so two elements match only if equal."""

    name: str
    schema: str | None
    table: str
    method: str
    columns: tuple[str, ...]
    include: tuple[str, ...] = ()
    predicate: str | None = None
    unique: bool = False
    only: bool = False
    nulls_not_distinct: bool = False
    options: str | None = None

    @property
    def has_expressions(self) -> bool:
        return any(not re.fullmatch(_IDENT, column) for column in self.columns)


def _group(text: str, at: int) -> tuple[str, int]:
    """The text inside the parenthesis opening at ``text[at]`` and the index just after its closing one,
    skipping parentheses inside 'string literals' and "quoted identifiers"."""
    depth, i, quote = 0, at, None
    while i < len(text):
        char = text[i]
        if quote:
            if char == quote:
                if i + 1 < len(text) and text[i + 1] == quote:
                    i += 1
                else:
                    quote = None
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return text[at + 1 : i], i + 1
        i += 1
    raise DataError(f"index definition: unbalanced parentheses in {text!r}")


def _split(text: str) -> tuple[str, ...]:
    """Split at the commas outside parentheses, quotes and string literals."""
    parts, depth, quote, current = [], 0, None, []
    for char in text:
        if quote:
            quote = None if char == quote else quote  # a doubled quote closes and reopens: same result
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    parts.append("".join(current).strip())
    return tuple(" ".join(p.split()) if '"' not in p and "'" not in p else p for p in parts if p)


def parse_indexdef(text: str) -> IndexDef:
    """Take apart ``CREATE [UNIQUE] INDEX name ON [ONLY] schema.table USING method (cols) [INCLUDE (...)]
    [NULLS [NOT] DISTINCT] [WITH (...)] [TABLESPACE t] [WHERE predicate]``. Raises DataError if it is not one."""
    head = _HEAD.match(text) if isinstance(text, str) else None  # None: not read (the table was locked)
    if head is None:
        raise DataError(f"not an index definition as pg_get_indexdef prints it: {text!r}")
    inside, at = _group(text, head.end())
    fields: dict[str, Any] = {"include": (), "predicate": None, "nulls_not_distinct": False, "options": None}
    rest = text[at:]
    while rest.strip():
        rest = rest.lstrip()
        upper = rest.upper()
        if upper.startswith("INCLUDE"):
            content, end = _group(rest, rest.index("("))
            fields["include"], rest = _split(content), rest[end:]
        elif upper.startswith("NULLS NOT DISTINCT"):
            fields["nulls_not_distinct"], rest = True, rest[len("NULLS NOT DISTINCT") :]
        elif upper.startswith("NULLS DISTINCT"):
            rest = rest[len("NULLS DISTINCT") :]
        elif upper.startswith("WITH"):
            content, end = _group(rest, rest.index("("))
            fields["options"], rest = content, rest[end:]
        elif (tablespace := re.match(rf"TABLESPACE\s+{_IDENT}", rest, re.IGNORECASE)) is not None:
            rest = rest[tablespace.end() :]
        elif upper.startswith("WHERE"):
            fields["predicate"], rest = " ".join(rest[len("WHERE") :].split()), ""
        else:
            raise DataError(f"index definition: unexpected {rest[:40]!r} in {text!r}")
    return IndexDef(
        name=head["name"],
        schema=head["schema"],
        table=head["table"],
        method=head["method"].lower(),
        columns=_split(inside),
        unique=bool(head["unique"]),
        only=bool(head["only"]),
        **fields,
    )


def _covers(candidate: IndexDef, other: IndexDef) -> bool:
    """True when ``other`` makes ``candidate`` redundant: same method and predicate, candidate's columns a leading
    prefix of other's, candidate's INCLUDE columns among other's columns, and candidate's uniqueness kept."""
    if candidate.method != other.method or candidate.predicate != other.predicate:
        return False
    n = len(candidate.columns)
    if candidate.columns != other.columns[:n]:
        return False
    if not set(candidate.include) <= set(other.columns) | set(other.include):
        return False
    if candidate.unique:  # kept only by a unique index on the same columns, at least as strict about NULLs
        same = other.unique and other.columns == candidate.columns
        return same and (other.nulls_not_distinct or not candidate.nulls_not_distinct)
    return True


def find_duplicate_indexes(indexes: pd.DataFrame) -> pd.DataFrame:
    """Redundant indexes in a frame of index rows (datname, schemaname, relname, indexrelname, indexdef,
    is_unique, is_primary, is_valid, index_bytes): each index whose columns are a leading prefix of another
    valid index's on the same table, with the same access method and predicate (``_covers``). A primary key
    is never reported; of two identical indexes the one sorting later by name is (with its twin as
    ``covered_by``), unless only one of them is unique. Definitions that do not parse are skipped."""
    rows: list[dict[str, Any]] = []
    for (datname, schema, table), group in indexes.groupby(["datname", "schemaname", "relname"], sort=True):
        parsed = []
        for row in group.itertuples(index=False):
            try:
                definition = parse_indexdef(row.indexdef)
            except DataError:
                continue
            if bool(row.is_primary):
                definition = IndexDef(**{**definition.__dict__, "unique": True})
            parsed.append((row, definition))
        for row, candidate in parsed:
            if bool(row.is_primary):
                continue
            covering = []
            for other_row, other in parsed:
                if other_row.indexrelname == row.indexrelname or not _valid(other_row.is_valid):
                    continue
                if not _covers(candidate, other):
                    continue
                mutual = candidate.columns == other.columns and _covers(other, candidate)
                if mutual and not bool(other_row.is_primary) and row.indexrelname < other_row.indexrelname:
                    continue  # identical twins: report only the later name
                covering.append((len(other.columns), other_row.indexrelname, other_row))
            if covering:
                _, _, best = min(covering, key=lambda item: (item[0], item[1]))
                rows.append(
                    {
                        "datname": datname,
                        "schemaname": schema,
                        "relname": table,
                        "indexrelname": row.indexrelname,
                        "index_bytes": row.index_bytes,
                        "indexdef": row.indexdef,
                        "covered_by": best.indexrelname,
                        "covered_by_indexdef": best.indexdef,
                        "identical": candidate.columns == parse_indexdef(best.indexdef).columns,
                    }
                )
    columns = [
        "datname",
        "schemaname",
        "relname",
        "indexrelname",
        "index_bytes",
        "indexdef",
        "covered_by",
        "covered_by_indexdef",
        "identical",
    ]
    return pd.DataFrame(rows, columns=columns)


def _valid(value: Any) -> bool:
    return bool(value) if not pd.isna(value) else True


def quote_identifier(identifier: str) -> str:
    """``identifier`` as SQL needs it: bare when it is a plain lower-case name, else double-quoted."""
    return identifier if re.fullmatch(r"[a-z_][a-z0-9_$]*", identifier) else '"' + identifier.replace('"', '""') + '"'
