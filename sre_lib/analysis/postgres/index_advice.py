"""Index suggestions read from the statements themselves, with PostgreSQL's own parser (pglast, libpg_query).

For each slow statement (mean time over ``SLOW_MEAN_MS``) and each statement reading a table where sequential
scans dominate (``indexes.seq_scan_tables``), ``statement_index_needs`` finds per table (aliases resolved) the
columns it filters by equality (``=``, ``IN``), by range (``<``, ``>``, ``BETWEEN``), joins on and sorts by.
``index_columns`` turns a need into a B-tree's columns: equality columns first, then the sort columns (an index
in ORDER BY order lets ``LIMIT`` stop early) or else the first range column; join keys only for a table with no
filter of its own (the inner side of a nested loop). A suggestion is skipped when a valid, non-partial index on
the table already leads with its equality columns (in any order) or, without them, with its first column.

Suggestions serving several statements are one row, with the statements' calls and time over the window.
Statements that do not parse (truncated by ``track_activity_query_size``) are skipped, not guessed at.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandas as pd
from pglast import ast, parse_sql
from pglast.enums import A_Expr_Kind, BoolExprType
from pglast.parser import ParseError

from sre_lib.analysis.postgres.index_definitions import parse_indexdef, quote_identifier
from sre_lib.analysis.postgres.indexes import seq_scan_tables
from sre_lib.analysis.postgres.queries import top_statements
from sre_lib.analysis.postgres.snapshots import Instant, latest_rows, resolve_window
from sre_lib.errors import DataError

__all__ = [
    "SLOW_MEAN_MS",
    "SUGGESTION_COLUMNS",
    "IndexNeed",
    "index_columns",
    "index_suggestions",
    "statement_index_needs",
    "suggest_indexes",
]

#: A statement is slow, and worth an index, from this mean execution time (PgHero's slow-query rule).
SLOW_MEAN_MS = 20.0

_RANGE_OPERATORS = {"<", ">", "<=", ">="}


@dataclass
class IndexNeed:
    """What one statement asks of one table: columns in order of first appearance, per use."""

    schema: str | None
    table: str
    equality: list[str] = field(default_factory=list)
    range: list[str] = field(default_factory=list)
    sort: list[str] = field(default_factory=list)
    join: list[str] = field(default_factory=list)


def _add(columns: list[str], column: str) -> None:
    if column not in columns:
        columns.append(column)


def _nested_statements(node: Any) -> Iterator[Any]:
    """Every SELECT, UPDATE and DELETE in the tree (CTEs, subqueries, set operations included)."""
    if isinstance(node, (ast.SelectStmt, ast.UpdateStmt, ast.DeleteStmt)):
        yield node
    if isinstance(node, ast.Node):
        for name in node:
            yield from _nested_statements(getattr(node, name))
    elif isinstance(node, (tuple, list)):
        for item in node:
            yield from _nested_statements(item)


def _range_vars(node: Any) -> Iterator[ast.RangeVar]:
    """The tables of one FROM clause, through joins but not into subqueries (their own scope)."""
    if isinstance(node, ast.RangeVar):
        yield node
    elif isinstance(node, ast.JoinExpr):
        yield from _range_vars(node.larg)
        yield from _range_vars(node.rarg)
    elif isinstance(node, (tuple, list)):
        for item in node:
            yield from _range_vars(item)


def _conditions(node: Any) -> Iterator[Any]:
    """The AND-ed conditions of a WHERE or ON clause (an OR's branches are not index keys)."""
    if isinstance(node, ast.BoolExpr) and node.boolop == BoolExprType.AND_EXPR:
        for arg in node.args:
            yield from _conditions(arg)
    elif node is not None:
        yield node


def _join_quals(node: Any) -> Iterator[Any]:
    if isinstance(node, ast.JoinExpr):
        yield from _conditions(node.quals)
        yield from _join_quals(node.larg)
        yield from _join_quals(node.rarg)
    elif isinstance(node, (tuple, list)):
        for item in node:
            yield from _join_quals(item)


class _Scope:
    """The tables of one statement by the names its columns may use (alias, or table name without one)."""

    def __init__(self, tables: list[ast.RangeVar], ctes: set[str]) -> None:
        self.needs: dict[str, IndexNeed] = {}
        for table in tables:
            if table.schemaname is None and table.relname in ctes:
                continue
            name = table.alias.aliasname if table.alias is not None else table.relname
            self.needs[name] = IndexNeed(table.schemaname, table.relname)
        self.ambiguous = len(tables) != 1

    def column(self, node: Any) -> tuple[IndexNeed, str] | None:
        """The table and column a ColumnRef names, or None (an expression, ``*``, an outer or unknown name)."""
        if not isinstance(node, ast.ColumnRef) or not all(isinstance(f, ast.String) for f in node.fields):
            return None
        names = [f.sval for f in node.fields]
        if len(names) == 1:
            if self.ambiguous or not self.needs:
                return None
            return next(iter(self.needs.values())), names[0]
        need = self.needs.get(names[-2])
        return (need, names[-1]) if need is not None else None


def _read_condition(scope: _Scope, condition: Any, in_join: bool) -> None:
    if not isinstance(condition, ast.A_Expr) or not condition.name:
        return
    operator = condition.name[-1].sval if isinstance(condition.name[-1], ast.String) else None
    left, right = scope.column(condition.lexpr), scope.column(condition.rexpr)
    kind = condition.kind
    if kind == A_Expr_Kind.AEXPR_OP and operator == "=":
        if left and right:
            if left[0] is not right[0]:  # a join key on each side
                _add(left[0].join, left[1])
                _add(right[0].join, right[1])
        elif left or right:
            need, column = left or right  # type: ignore[misc]
            _add(need.join if in_join else need.equality, column)
    elif kind == A_Expr_Kind.AEXPR_IN and operator == "=" and left:
        _add(left[0].equality, left[1])
    elif kind == A_Expr_Kind.AEXPR_OP and operator in _RANGE_OPERATORS and bool(left) != bool(right):
        need, column = left or right  # type: ignore[misc]
        _add(need.range, column)
    elif kind == A_Expr_Kind.AEXPR_BETWEEN and left:
        _add(left[0].range, left[1])


def _statement_needs(statement: Any, ctes: set[str]) -> list[IndexNeed]:
    if isinstance(statement, ast.SelectStmt):
        tables = list(_range_vars(statement.fromClause))
        where, joins, sorts = statement.whereClause, list(_join_quals(statement.fromClause)), statement.sortClause
    else:  # UPDATE ... FROM, DELETE ... USING
        extra = statement.fromClause if isinstance(statement, ast.UpdateStmt) else statement.usingClause
        tables = [statement.relation, *_range_vars(extra)]
        where, joins, sorts = statement.whereClause, list(_join_quals(extra)), None
    scope = _Scope(tables, ctes)
    for condition in _conditions(where):
        _read_condition(scope, condition, in_join=False)
    for condition in joins:
        _read_condition(scope, condition, in_join=True)
    sort_columns = [scope.column(sort.node) for sort in sorts or ()]
    if sort_columns and all(sort_columns) and len({id(need) for need, _ in sort_columns}) == 1:  # type: ignore[misc]
        for need, column in sort_columns:  # type: ignore[misc]
            _add(need.sort, column)
    return list(scope.needs.values())


def statement_index_needs(query: str) -> list[IndexNeed]:
    """Per table of ``query`` (aliases resolved, CTE names left out), the columns it filters, joins on and sorts
    by. Raises DataError when PostgreSQL's parser does not accept the text."""
    try:
        tree = parse_sql(query)
    except ParseError as error:
        raise DataError(f"index advice: statement does not parse ({error}): {query[:80]!r}") from error
    ctes = {cte.ctename for node in _nested_statements(tree) for cte in getattr(node.withClause, "ctes", None) or ()}
    needs: list[IndexNeed] = []
    for statement in _nested_statements(tree):
        needs.extend(_statement_needs(statement, ctes))
    return needs


def index_columns(need: IndexNeed) -> tuple[str, ...]:
    """The B-tree columns serving ``need``, or () when it filters nothing: equality columns first, then the sort
    columns or else the first range column; join keys stand in for the equality columns of a table without
    filters of its own."""
    leading = need.equality or ([] if need.range else need.join)
    if not leading and not need.range:
        return ()
    columns = list(leading)
    for column in need.sort or need.range[:1]:
        _add(columns, column)
    return tuple(columns)


def _leading_plain_columns(indexdef: str) -> tuple[str, ...] | None:
    """The index's columns as plain names up to its first expression, or None for a partial or unreadable one."""
    try:
        parsed = parse_indexdef(indexdef)
    except DataError:
        return None
    if parsed.predicate is not None or parsed.method not in {"btree", "hash"}:
        return None
    names = []
    for element in parsed.columns:
        first = element.split()[0]
        name = first[1:-1].replace('""', '"') if first.startswith('"') and first.endswith('"') else first
        if not (first.startswith('"') or name.replace("_", "").replace("$", "").isalnum()):
            break
        names.append(name)
    return tuple(names)


def _covered(columns: tuple[str, ...], need: IndexNeed, existing: list[tuple[str, ...]]) -> bool:
    key = need.equality or ([] if need.range else need.join)
    for index in existing:
        if key and len(index) >= len(key) and set(index[: len(key)]) == set(key):
            return True
        if not key and index[:1] == columns[:1]:
            return True
    return False


SUGGESTION_COLUMNS = [
    "server",
    "datname",
    "schemaname",
    "relname",
    "columns",
    "action",
    "statements",
    "queryids",
    "calls",
    "total_exec_time_ms",
    "mean_exec_time_ms",
    "share_total_time",
    "seq_scans_dominate",
    "query",
]


def suggest_indexes(
    statements: pd.DataFrame,
    tables: pd.DataFrame,
    indexes: pd.DataFrame,
    seq_scans: pd.DataFrame,
    *,
    slow_mean_ms: float = SLOW_MEAN_MS,
) -> pd.DataFrame:
    """Index suggestions from frames: ``statements`` as ``top_statements`` returns them, ``tables`` and
    ``indexes`` the latest pg_tables / pg_indexes rows (to resolve schemas and skip covered suggestions),
    ``seq_scans`` as ``seq_scan_tables`` returns it. A statement counts for a table when it is slow (mean time
    >= ``slow_mean_ms``) or sequential scans dominate the table. Costliest first."""
    known = {(d, s, r) for d, s, r in zip(tables["datname"], tables["schemaname"], tables["relname"], strict=True)}
    existing: dict[tuple[str, str, str], list[tuple[str, ...]]] = {}
    for row in indexes.itertuples(index=False):
        columns = _leading_plain_columns(row.indexdef) if pd.isna(row.is_valid) or bool(row.is_valid) else None
        if columns:
            existing.setdefault((row.datname, row.schemaname, row.relname), []).append(columns)
    dominated = set(zip(seq_scans["datname"], seq_scans["schemaname"], seq_scans["relname"], strict=True))
    served: dict[tuple[Any, ...], list[Any]] = {}
    for row in statements.itertuples(index=False):
        try:
            needs = statement_index_needs(row.query)
        except DataError:
            continue
        for need in needs:
            table = _resolve(known, row.datname, need)
            columns = index_columns(need)
            if table is None or not columns or _covered(columns, need, existing.get(table, [])):
                continue
            if row.mean_exec_time_ms < slow_mean_ms and table not in dominated:
                continue
            entries = served.setdefault((row.server, *table, columns), [])
            if all(other.queryid != row.queryid for other in entries):
                entries.append(row)
    out = [_suggestion(key, rows, dominated) for key, rows in served.items()]
    frame = pd.DataFrame(out, columns=SUGGESTION_COLUMNS)
    frame = frame.sort_values(["total_exec_time_ms", "relname"], ascending=[False, True], kind="stable")
    return frame.reset_index(drop=True)


def _resolve(known: set[tuple[str, str, str]], datname: str, need: IndexNeed) -> tuple[str, str, str] | None:
    """The warehouse's (datname, schema, table) for a table the statement names; None when not collected (a
    view, a catalog, another database) or ambiguous (the same name in several schemas, none of them public)."""
    if need.schema is not None:
        return (datname, need.schema, need.table) if (datname, need.schema, need.table) in known else None
    if (datname, "public", need.table) in known:
        return datname, "public", need.table
    matches = [key for key in known if key[0] == datname and key[2] == need.table]
    return matches[0] if len(matches) == 1 else None


def _suggestion(key: tuple[Any, ...], rows: list[Any], dominated: set[tuple[str, str, str]]) -> dict[str, Any]:
    server, datname, schema, table, columns = key
    costliest = max(rows, key=lambda row: row.total_exec_time_ms)
    calls = sum(row.calls for row in rows)
    total = sum(row.total_exec_time_ms for row in rows)
    column_list = ", ".join(quote_identifier(column) for column in columns)
    return {
        "server": server,
        "datname": datname,
        "schemaname": schema,
        "relname": table,
        "columns": ", ".join(columns),
        "action": f"CREATE INDEX CONCURRENTLY ON {quote_identifier(schema)}.{quote_identifier(table)} ({column_list})",
        "statements": len(rows),
        "queryids": [row.queryid for row in rows],
        "calls": calls,
        "total_exec_time_ms": total,
        "mean_exec_time_ms": total / calls if calls else float("nan"),
        "share_total_time": sum(row.share_total_time for row in rows if pd.notna(row.share_total_time)),
        "seq_scans_dominate": (datname, schema, table) in dominated,
        "query": costliest.query,
    }


def index_suggestions(
    con: duckdb.DuckDBPyConnection,
    server: str | None = None,
    start: Instant | None = None,
    end: Instant | None = None,
    *,
    slow_mean_ms: float = SLOW_MEAN_MS,
) -> pd.DataFrame:
    """Index suggestions over the window for the statements slower than ``slow_mean_ms`` on average and those
    reading a table where sequential scans dominate, with the calls and time they took (``suggest_indexes``)."""
    statements = top_statements(con, server, start, end, limit=None)
    if statements.empty:
        return pd.DataFrame(columns=SUGGESTION_COLUMNS)
    seq_scans = seq_scan_tables(con, server, start, end)
    tables = latest_rows(con, "pg_tables", resolve_window(con, server, None, end, "pg_tables"))
    indexes = latest_rows(con, "pg_indexes", resolve_window(con, server, None, end, "pg_indexes"))
    return suggest_indexes(statements, tables, indexes, seq_scans, slow_mean_ms=slow_mean_ms)
