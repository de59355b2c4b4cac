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


class _JsonText(FunctionElement):
    """Its clauses as the text of JSON, written per dialect: `sql` maps each
    dialect's name to a template of the clauses."""

    type = Text()
    inherit_cache = True
    sql: dict[str, str] = {}


@compiles(_JsonText)
def _written(element, compiler, **kw):
    return element.sql[compiler.dialect.name].format(compiler.process(element.clauses, **kw))


class json_rows(_JsonText):  # noqa: N801 - a SQL function, named as one
    """Aggregate: each group's rows of these columns as the text of a JSON array of arrays, or NULL."""

    inherit_cache = True  # asked of each class itself
    name = "json_rows"
    # SQLite's empty group gives '[]': NULL, as PostgreSQL gives, costs nothing to read.
    # PostgreSQL's as text: psycopg would decode json on every read.
    sql = {"sqlite": "nullif(json_group_array(json_array({})), '[]')",
           "postgresql": "json_agg(json_build_array({}))::text"}


class json_row(_JsonText):  # noqa: N801 - a SQL function, named as one
    """These values as the text of one JSON array."""

    inherit_cache = True
    name = "json_row"
    sql = {"sqlite": "json_array({})", "postgresql": "json_build_array({})::text"}


def in_order(text: str | None) -> list[list]:
    """Nested rows, decoded and sorted by their first value (their id); none gives []."""
    return sorted(json.loads(text)) if text else []
