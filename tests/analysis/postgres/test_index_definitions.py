"""Index definitions taken apart and redundant indexes found (sre_lib.analysis.postgres.index_definitions), on
hand-built definitions."""

from __future__ import annotations

import pandas as pd
import pytest

from sre_lib.analysis.postgres.index_definitions import IndexDef, find_duplicate_indexes, parse_indexdef
from sre_lib.errors import DataError


def test_parse_indexdef_handles_everything_pg_get_indexdef_prints() -> None:
    simple = parse_indexdef("CREATE UNIQUE INDEX users_pkey ON public.users USING btree (id)")
    assert simple == IndexDef(name="users_pkey", schema="public", table="users", method="btree",
                              columns=("id",), unique=True)  # fmt: skip
    hard = parse_indexdef(
        'CREATE INDEX "Weird, (Name)" ON ONLY "My Schema"."My(Table)" USING btree ("Col, 1" DESC NULLS LAST, '
        'lower((email)::text) COLLATE "C" text_pattern_ops) INCLUDE (a, "b c") WITH (fillfactor=\'70\') '
        "WHERE ((status)::text = 'a,b)c'::text)"
    )
    assert hard.name == '"Weird, (Name)"' and hard.schema == '"My Schema"' and hard.table == '"My(Table)"'
    assert hard.only and not hard.unique and hard.method == "btree"
    assert hard.columns == ('"Col, 1" DESC NULLS LAST', 'lower((email)::text) COLLATE "C" text_pattern_ops')
    assert hard.include == ("a", '"b c"')
    assert hard.options == "fillfactor='70'"
    assert hard.predicate == "((status)::text = 'a,b)c'::text)"
    assert hard.has_expressions and not simple.has_expressions
    nnd = parse_indexdef("CREATE UNIQUE INDEX t_a_key ON public.t USING btree (a) NULLS NOT DISTINCT")
    assert nnd.nulls_not_distinct and nnd.columns == ("a",)
    gin = parse_indexdef("CREATE INDEX i ON public.t USING gin (to_tsvector('english'::regconfig, body))")
    assert gin.method == "gin" and gin.columns == ("to_tsvector('english'::regconfig, body)",)
    unqualified = parse_indexdef("CREATE INDEX i ON t USING brin (ts) WITH (pages_per_range='32')")
    assert unqualified.schema is None and unqualified.table == "t" and unqualified.options == "pages_per_range='32'"
    for bad in (
        "CREATE TABLE t (a int)",
        "CREATE INDEX i ON t USING btree (a",
        "CREATE INDEX i ON t USING btree (a) X",
    ):
        with pytest.raises(DataError):
            parse_indexdef(bad)


def _indexes(*rows: tuple) -> pd.DataFrame:
    """Index rows: (name, definition[, unique, primary, valid]) on public.t of database d."""
    full = [(*r, *(False, False, True)[len(r) - 2 :]) for r in rows]
    return pd.DataFrame(
        [("d", "public", "t", name, f"CREATE {'UNIQUE ' if u else ''}INDEX {name} ON public.t USING {definition}",
          u, p, v, 8192) for name, definition, u, p, v in full],
        columns=["datname", "schemaname", "relname", "indexrelname", "indexdef", "is_unique", "is_primary", "is_valid",
                 "index_bytes"],
    )  # fmt: skip


def _pairs(frame: pd.DataFrame) -> set[tuple[str, str]]:
    found = find_duplicate_indexes(frame)
    return set(zip(found["indexrelname"], found["covered_by"], strict=True))


def test_duplicate_detection_edge_cases() -> None:
    assert _pairs(_indexes(("a", "btree (x)"), ("ab", "btree (x, y)"))) == {("a", "ab")}
    assert _pairs(_indexes(("b", "btree (y)"), ("ab", "btree (x, y)"))) == set()  # not a leading prefix
    assert _pairs(_indexes(("a", "btree (x) WHERE (y > 0)"), ("ab", "btree (x, y)"))) == set()  # predicates
    assert _pairs(_indexes(("a", "btree (x) WHERE (y > 0)"), ("ab", "btree (x, y) WHERE (y > 0)"))) == {("a", "ab")}
    assert _pairs(_indexes(("a", "hash (x)"), ("ab", "btree (x, y)"))) == set()  # access methods
    assert _pairs(_indexes(("a", "btree (x DESC)"), ("ab", "btree (x, y)"))) == set()  # ordering differs
    assert _pairs(_indexes(("e", "btree (lower(x))"), ("ex", "btree (lower(x), y)"))) == {("e", "ex")}
    assert _pairs(_indexes(("e", "btree (lower(x))"), ("ux", "btree (upper(x), y)"))) == set()
    assert _pairs(_indexes(("i", "btree (x) INCLUDE (z)"), ("ab", "btree (x, y)"))) == set()  # z not covered
    assert _pairs(_indexes(("i", "btree (x) INCLUDE (y)"), ("ab", "btree (x, y)"))) == {("i", "ab")}
    assert _pairs(_indexes(("u", "btree (x)", True), ("ab", "btree (x, y)"))) == set()  # uniqueness matters
    assert _pairs(_indexes(("u", "btree (x)", True), ("n", "btree (x)"))) == {("n", "u")}
    assert _pairs(_indexes(("p", "btree (x)", True, True), ("u", "btree (x)", True))) == {("u", "p")}
    assert _pairs(_indexes(("a1", "btree (x)"), ("a2", "btree (x)"))) == {("a2", "a1")}
    assert _pairs(_indexes(("a", "btree (x)"), ("ab", "btree (x, y)", False, False, False))) == set()  # invalid
    assert _pairs(_indexes(("a", "btree (x)"), ("junk", "nonsense"))) == set()
    unread = _indexes(("a", "btree (x)"), ("ab", "btree (x, y)"))
    unread.loc[1, "indexdef"] = None  # its table was locked during the snapshot: no definition read
    assert _pairs(unread) == set()
    other_table = _indexes(("a", "btree (x)"), ("ab", "btree (x, y)"))
    other_table.loc[1, "relname"] = "u"
    assert _pairs(other_table) == set()
    nnd = _indexes(("u1", "btree (x) NULLS NOT DISTINCT", True), ("u2", "btree (x)", True))
    assert _pairs(nnd) == {("u2", "u1")}  # u1 (NULLS NOT DISTINCT) is stricter: u2 is redundant, not u1
