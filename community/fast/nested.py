"""Rows nested in a column: what hangs off each row of a page (a post's
reactions, its files) read in the statement that reads the rows.

A correlated subquery's rows come back as one JSON array of arrays, NULL when
it has none, on SQLite and on PostgreSQL alike. A thread page read its posts,
their reactions and their files in three statements; PostgreSQL spent about
150 µs a statement more than SQLite under load (bench/findings.md, 49), and
each statement costs Python the same fixed work on either.

The items come in no particular order (SQLite before 3.44 has no ORDER BY
inside an aggregate): give each an id first and sort them (`in_order`).
"""
from sqlalchemy import JSON
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class json_rows(FunctionElement):  # noqa: N801 - a SQL function, named as one
    """Aggregate: each group's rows of these columns as a JSON array of arrays, or NULL."""

    type = JSON(none_as_null=True)
    inherit_cache = True
    name = "json_rows"


@compiles(json_rows, "sqlite")
def _sqlite(element, compiler, **kw):
    # An empty group gives '[]': NULL, as PostgreSQL gives, costs nothing to read.
    return f"nullif(json_group_array(json_array({compiler.process(element.clauses, **kw)})), '[]')"


@compiles(json_rows, "postgresql")
def _postgresql(element, compiler, **kw):
    return f"json_agg(json_build_array({compiler.process(element.clauses, **kw)}))"


def in_order(items: list | None) -> list:
    """Nested rows sorted by their first value (their id); none gives []."""
    return sorted(items) if items else []
