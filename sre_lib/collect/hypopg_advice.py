"""Index suggestions checked on the server with HypoPG: the planner's cost of each statement without and with
the suggested index, made hypothetical (it exists only in the session's memory: nothing is built or written).

Runs over ``PostgresTarget.connect`` sessions (read-only, with statement and lock timeouts); HypoPG works there,
as it does on a standby. It needs the extension in the statement's database (``CREATE EXTENSION hypopg``; Debian
package ``postgresql-15-hypopg``): where it is not, each row says so instead of a cost. Planning a statement
needs SELECT on its tables, which pg_monitor alone lacks: run it as a role with ``pg_read_all_data`` too.
pg_stat_statements texts carry ``$n`` placeholders, so a statement is prepared and explained with
``plan_cache_mode = force_generic_plan``: the plan for any parameter values, costed without them.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import psycopg
from pglast import ast, parse_sql
from pglast.parser import ParseError
from pglast.visitors import Visitor

from sre_lib.collect.postgres_snapshot import PostgresTarget
from sre_lib.secrets import redact

__all__ = ["HYPOPG_COLUMNS", "check_suggestions", "plan_cost"]

#: What ``check_suggestions`` adds to each suggestion row.
HYPOPG_COLUMNS = ["cost_before", "cost_after", "uses_index", "hypopg_note"]

_STATEMENT = "sre_hypopg_statement"


class _Params(Visitor):
    def __init__(self) -> None:
        self.highest = 0

    def visit_ParamRef(self, ancestors: Any, node: ast.ParamRef) -> None:
        self.highest = max(self.highest, node.number)


def _param_count(query: str) -> int:
    counter = _Params()
    counter(parse_sql(query))
    return counter.highest


def plan_cost(con: psycopg.Connection, query: str) -> tuple[float, dict[str, Any]]:
    """The generic plan's total cost of ``query`` (with ``$n`` placeholders) and the plan itself."""
    params = _param_count(query)
    con.execute("SET plan_cache_mode = force_generic_plan")
    con.execute(f"PREPARE {_STATEMENT} AS {query}")
    try:
        arguments = f"({', '.join(['NULL'] * params)})" if params else ""
        (plan,) = con.execute(f"EXPLAIN (FORMAT JSON) EXECUTE {_STATEMENT}{arguments}").fetchone()  # type: ignore[misc]
    finally:
        con.execute(f"DEALLOCATE {_STATEMENT}")
    top = plan[0]["Plan"]
    return float(top["Total Cost"]), top


def _index_names(plan: dict[str, Any]) -> set[str]:
    names = {plan["Index Name"]} if "Index Name" in plan else set()
    for child in plan.get("Plans", ()):
        names |= _index_names(child)
    return names


def _check(con: psycopg.Connection, action: str, query: str) -> dict[str, Any]:
    if con.execute("SELECT 1 FROM pg_extension WHERE extname = 'hypopg'").fetchone() is None:
        return {"hypopg_note": "HypoPG is not installed in this database: CREATE EXTENSION hypopg"}
    before, _ = plan_cost(con, query)
    create = action.replace("CREATE INDEX CONCURRENTLY ON", "CREATE INDEX ON", 1)
    (oid, name) = con.execute("SELECT indexrelid, indexname FROM hypopg_create_index(%s)", [create]).fetchone()  # type: ignore[misc]
    try:
        after, plan = plan_cost(con, query)
    finally:
        con.execute("SELECT hypopg_drop_index(%s)", [oid])
    return {"cost_before": before, "cost_after": after, "uses_index": name in _index_names(plan), "hypopg_note": ""}


def check_suggestions(target: PostgresTarget, suggestions: pd.DataFrame) -> pd.DataFrame:
    """``suggestions`` (rows with datname, action and query, as ``index_advice.index_suggestions`` gives them)
    with the plan cost of each statement before and after its index, made hypothetical, and whether the plan
    uses it. A suggestion that cannot be checked keeps NaN costs and says why in ``hypopg_note``."""
    rows = []
    sessions: dict[str, psycopg.Connection] = {}
    try:
        for row in suggestions.itertuples(index=False):
            try:
                if row.datname not in sessions:
                    sessions[row.datname] = target.connect(row.datname)
                    sessions[row.datname].autocommit = True
                result = _check(sessions[row.datname], row.action, row.query)
            except (psycopg.Error, ParseError) as error:
                text = str(error).strip()
                reason = redact(text.splitlines()[0], [target.password]) if text else type(error).__name__
                result = {"hypopg_note": f"not checked on {target.describe(row.datname)}: {reason}"}
            rows.append({"cost_before": float("nan"), "cost_after": float("nan"), "uses_index": False, **result})
    finally:
        for session in sessions.values():
            session.close()
    checked = pd.DataFrame(rows, columns=HYPOPG_COLUMNS, index=suggestions.index)
    return pd.concat([suggestions, checked], axis=1)
