"""Rows nested in a column: what hangs off each row of a page (a post's
reactions, its files) read in the statement that reads the rows.

A correlated subquery's rows come back as the text of one JSON array of
arrays, NULL when it has none, on SQLite and on PostgreSQL alike. A thread page read its posts,
their reactions and their files in three statements; PostgreSQL spent about
150 µs a statement more than SQLite under load (bench/findings.md, 49), and
each statement costs Python the same fixed work on either.

A row's few aggregates (a date's answers counted by kind) come back the same
way, as one JSON array (`json_row`): a scalar subquery gives one column.

The text is decoded only where the rows are shown (`in_order`): a kept
page's key holds it as read, and a page served from the memo decodes nothing.
The items come in no particular order (SQLite before 3.44 has no ORDER BY
inside an aggregate): give each an id first, and `in_order` sorts by it.
"""
import json

from sqlalchemy import Text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class json_rows(FunctionElement):  # noqa: N801 - a SQL function, named as one
    """Aggregate: each group's rows of these columns as the text of a JSON array of arrays, or NULL."""

    type = Text()
    inherit_cache = True
    name = "json_rows"


@compiles(json_rows, "sqlite")
def _sqlite(element, compiler, **kw):
    # An empty group gives '[]': NULL, as PostgreSQL gives, costs nothing to read.
    return f"nullif(json_group_array(json_array({compiler.process(element.clauses, **kw)})), '[]')"


@compiles(json_rows, "postgresql")
def _postgresql(element, compiler, **kw):
    # As text: psycopg would decode json on every read.
    return f"json_agg(json_build_array({compiler.process(element.clauses, **kw)}))::text"


class json_row(FunctionElement):  # noqa: N801 - a SQL function, named as one
    """These values as the text of one JSON array."""

    type = Text()
    inherit_cache = True
    name = "json_row"


@compiles(json_row, "sqlite")
def _sqlite_row(element, compiler, **kw):
    return f"json_array({compiler.process(element.clauses, **kw)})"


@compiles(json_row, "postgresql")
def _postgresql_row(element, compiler, **kw):
    return f"json_build_array({compiler.process(element.clauses, **kw)})::text"


def in_order(text: str | None) -> list[list]:
    """Nested rows, decoded and sorted by their first value (their id); none gives []."""
    return sorted(json.loads(text)) if text else []
