"""Reads that every page runs, compiled once per database and sent straight to the driver.

Through `Connection.execute` a page of posts cost about three times what the
driver's own cursor took (bench/findings.md, 24): SQLAlchemy's execution path
(cache lookup, parameters, result set-up), paid again for every statement of
every request. A `Prepared` read does that work
once: it compiles its select for the dialect, keeps the SQL text, the order of
its parameters and each column's result processor, then runs on the session's
own connection, inside its transaction, through the DBAPI cursor.

What stays as it was:
- the statement goes through the engine's `before_cursor_execute` and
  `after_cursor_execute` listeners, so statement counters (tests, the bench)
  and checks (the fuzz suite's) see it;
- values come out converted by the column types' own result processors
  (SQLite's datetimes, booleans), the same values SQLAlchemy would give;
- a driver error is raised by running the statement again through
  SQLAlchemy, which wraps it and handles a lost connection as it always does
  (on a page load's own connection, page_load.PageConnection.failed does
  what SQLAlchemy's Connection would).

An IN list (`bindparam(..., expanding=True)`) is expanded by the compiled
statement's own `construct_expanded_state`, as SQLAlchemy's execution does,
once per set of list lengths: the SQL differs with them, and the plan says
where each parameter comes from. An `inline` value (a LIMIT, an OFFSET) is
written into the SQL the same way, once per value.

Constants (`status == "active"`, `.limit(100)`: a value written in the code,
the same on every run, as the select is built once) are written into the SQL
too, not sent as parameters. PostgreSQL plans a statement prepared on the
server for any value of its parameters (its generic plan), and only
for the value it sees when planning anew (a custom plan) does it know a LIMIT
of 8 from one of 800. So a LIMIT sent as a parameter made it plan the
dashboard's threads again on every run (1 ms), and the Files page's 5 ms
(bench/findings.md, 32).

This leans on SQLAlchemy's internals (the compiler's parameters and their
order, the cursor events' arguments, the pool's driver connection), which a
minor release may change: pyproject pins the minor version, and
check_sqlalchemy() runs on import and refuses (RuntimeError) a version whose
internals are not as this module uses them, rather than send wrong statements.
"""
import inspect as pyinspect
from collections import namedtuple
from collections.abc import Callable
from functools import cache
from typing import Any, NamedTuple, NoReturn

import sqlalchemy
from sqlalchemy import Integer, bindparam, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.engine.default import DefaultDialect
from sqlalchemy.events import ConnectionEvents
from sqlalchemy.orm import InstanceState, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state, manager_of_class, set_committed_value
from sqlalchemy.orm.instrumentation import ClassManager
from sqlalchemy.orm.util import identity_key
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql import Select
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter

from ..extensions import db
from . import page_load

# The minor version whose internals this module was written against and tested on.
SQLALCHEMY_MINOR = (2, 1)
_CURSOR_EVENT_ARGS = ["self", "conn", "cursor", "statement", "parameters", "context", "executemany"]


def check_sqlalchemy() -> None:
    """That the SQLAlchemy installed is the minor version this module relies on
    and its internals are there and behave as used here.

    :raise RuntimeError: naming the version and what differs.
    """
    problems = []
    if tuple(int(part) for part in sqlalchemy.__version__.split(".")[:2]) != SQLALCHEMY_MINOR:
        problems.append("written for SQLAlchemy {}.{}".format(*SQLALCHEMY_MINOR))
    for owner, name in [(SQLCompiler, "construct_params"),
                        (SQLCompiler, "construct_expanded_state"), (SQLCompiler, "bind_names"),
                        (DefaultDialect, "loaded_dbapi"),
                        (DefaultDialect, "positional"), (PoolProxiedConnection, "driver_connection"),
                        (Connection, "dispatch"), (ClassManager, "new_instance"),
                        (InstanceState, "expired_attributes")]:
        # Declared on the class or one it derives from (some are set per instance).
        if not any(name in vars(cls) or name in getattr(cls, "__annotations__", {}) for cls in owner.__mro__):
            problems.append(f"{owner.__name__}.{name} is gone")
    construct = getattr(SQLCompiler, "construct_params", None)
    if construct is not None and "_no_postcompile" not in pyinspect.signature(construct).parameters:
        problems.append("SQLCompiler.construct_params takes other arguments")  # an IN list's plan
    for event in ("before_cursor_execute", "after_cursor_execute"):
        listener = getattr(ConnectionEvents, event, None)
        if listener is None or list(pyinspect.signature(listener).parameters) != _CURSOR_EVENT_ARGS:
            problems.append(f"ConnectionEvents.{event} takes other arguments")
    try:  # a positional driver's parameters, in order, with the select's own literal and LIMIT
        from sqlalchemy.dialects import sqlite

        dialect = sqlite.dialect()
        compiled = (select(bindparam("a", type_=Integer)).where(bindparam("b", type_=Integer) > 0)
                    .limit(3).compile(dialect=dialect))
        params = compiled.construct_params({"a": 1, "b": 2})
        if not (dialect.positional and [params[name] for name in compiled.positiontup] == [1, 2, 0, 3, 0]
                and not any(bind.expanding for bind in compiled.binds.values())):
            problems.append("a compiled select's parameters come otherwise")
    except Exception as error:  # noqa: BLE001 - any failure here is the thing to report
        problems.append(f"compiling a select failed ({error!r})")
    if problems:
        raise RuntimeError(f"community.fast.prepared can't run on SQLAlchemy {sqlalchemy.__version__}: "
                           + "; ".join(problems) + ". See community/fast/README.md.")


check_sqlalchemy()


class _Compiled(NamedTuple):
    sql: str
    compiled: Any  # the SQLCompiler: construct_params fills the binds' own values (a LIMIT)
    order: tuple[str, ...] | None  # parameter names in order for a positional driver
    binds: tuple[tuple[str, Callable], ...]  # parameters whose type converts them
    converts: tuple[tuple[int, Callable], ...]  # the columns whose type converts them, by position
    lists: tuple[tuple[str, bool], ...]  # IN lists (True) and inline values: the SQL depends on them
    plans: dict  # {the lists' lengths and the inline values: _Plan}


class Prepared:
    """A select built once (lazily: models must be mapped first) and compiled once per dialect."""

    def __init__(self, build: Callable[[], Select]):
        self._build = build
        self._statement: Select | None = None
        self._by_dialect: dict[str, _Compiled] = {}
        self._row: type | None = None

    @property
    def statement(self) -> Select:
        if self._statement is None:
            self._statement = self._build()
        return self._statement

    @property
    def Row(self) -> type:  # noqa: N802 - a class, named as one
        """The named tuple of the select's columns."""
        if self._row is None:
            # rename: unlabelled or repeated names become _0, _1... (read by position)
            self._row = namedtuple("Row", self.statement.selected_columns.keys(), rename=True)
        return self._row

    def rows(self, params: dict, into: type | None = None) -> list:
        """Every row, as named tuples of the select's column names (or of `into`)."""
        found = self._run(params)
        make = (into or self.Row)._make
        return [make(values) for values in found]

    def values(self, params: dict) -> list:
        """Every row as it comes, a sequence of values: for a caller that unpacks them."""
        return self._run(params)

    def first(self, params: dict):
        """The first row (named), or None."""
        found = self._run(params, one=True)
        return self.Row._make(found[0]) if found else None

    def scalar(self, params: dict):
        """The first column of the first row, or None."""
        found = self._run(params, one=True)
        return found[0][0] if found else None

    def _run(self, params: dict, one: bool = False) -> list[tuple]:
        conn = page_load.connection()
        compiled = self._compiled_for(conn.dialect)
        sql, parameters = _expanded(compiled, params) if compiled.lists else (
            compiled.sql, _parameters(compiled, params))
        try:
            cursor = conn.connection.driver_connection.cursor()
        except conn.dialect.loaded_dbapi.Error as error:  # a connection closed under it
            self._failed(conn, error, sql, parameters, params)
        try:
            self._notify(conn, "before_cursor_execute", cursor, sql, parameters)
            try:
                cursor.execute(sql, parameters)
            except conn.dialect.loaded_dbapi.Error as error:
                self._failed(conn, error, sql, parameters, params, cursor)
            self._notify(conn, "after_cursor_execute", cursor, sql, parameters)
            found = cursor.fetchmany(1) if one else cursor.fetchall()
        finally:
            cursor.close()
        return [_converted(row, compiled.converts) for row in found] if compiled.converts else found

    def _failed(self, conn, error: Exception, sql: str, parameters, params: dict, cursor=None) -> NoReturn:
        """Raise the driver's error as SQLAlchemy raises it, a dropped connection
        dealt with as it deals with one."""
        if isinstance(conn, page_load.PageConnection):
            raise conn.failed(error, sql, parameters, cursor) from error
        conn.execute(self.statement, params)  # SQLAlchemy's own path: raises it wrapped
        raise error

    @staticmethod
    def _notify(conn, name: str, cursor, sql: str, parameters) -> None:
        # The listeners of the engine and the connection, as Connection.execute calls them.
        listeners = getattr(conn.dispatch, name)
        if listeners:
            listeners(conn, cursor, sql, parameters, None, False)

    def _compiled_for(self, dialect) -> _Compiled:
        found = self._by_dialect.get(dialect.name)
        if found is None:
            found = self._by_dialect[dialect.name] = _compile(self.statement, dialect)
        return found


def _parameters(compiled: _Compiled, params: dict):
    values = compiled.compiled.construct_params(params)
    for name, convert in compiled.binds:
        values[name] = convert(values[name])
    return values if compiled.order is None else tuple(values[name] for name in compiled.order)


class _Plan(NamedTuple):
    """The SQL for one set of IN list lengths, and where each of its parameters
    comes from: (its name, the list's or the value's name, the item's index or
    None, the type's conversion or None)."""

    sql: str
    positional: bool
    sources: tuple[tuple[str, str, int | None, Callable | None], ...]


PLANS_KEPT = 256  # per statement: an OFFSET comes from ?page=, which a visitor chooses


def _expanded(compiled: _Compiled, params: dict) -> tuple[str, Any]:
    """The SQL and parameters for these IN lists and inline values, as
    SQLAlchemy's execution makes them (each item its own parameter, converted
    by its type). Expanding is planned once per set of list lengths: doing it
    on every call cost a third of a dashboard's prepared reads."""
    key = tuple(len(params[name]) if is_list else params[name] for name, is_list in compiled.lists)
    plan = compiled.plans.get(key)
    if plan is None:
        plan = _plan(compiled, params)
        if len(compiled.plans) < PLANS_KEPT:
            compiled.plans[key] = plan
    values = compiled.compiled.construct_params(params, _no_postcompile=True)
    found = ((name, values[source] if index is None else params[source][index], convert)
             for name, source, index, convert in plan.sources)
    found = ((name, value if convert is None else convert(value)) for name, value, convert in found)
    return plan.sql, (tuple(value for _, value in found) if plan.positional else dict(found))


def _plan(compiled: _Compiled, params: dict) -> _Plan:
    state = compiled.compiled.construct_expanded_state(params)
    items = {item: (name, index) for name, expanded in state.parameter_expansion.items()
             for index, item in enumerate(expanded)}
    names = state.positiontup if state.positiontup is not None else tuple(state.parameters)
    converts = {**dict(compiled.binds), **state.processors}  # a list's items' own, as expanded
    return _Plan(state.statement, state.positiontup is not None,
                 tuple((name, *items.get(name, (name, None)), converts.get(name)) for name in names))


def inline(name: str) -> BindParameter:
    """An integer parameter written into the SQL (a LIMIT, an OFFSET): the
    database plans for its value (see the module's docstring)."""
    return bindparam(name, type_=Integer, literal_execute=True)


def _constant(bind: BindParameter) -> bool:
    """A value written in the code (an anonymous bind with its value, or a list
    of them: `in_(("circles", "alumni"))`), not one given per run."""
    return bind.unique and bind.value is not None and bind.callable is None


class _ConstantsInline:
    """A dialect's compiler that writes the statement's constants into its SQL."""

    def visit_bindparam(self, bindparam, **kw):
        if _constant(bindparam) and not kw.get("literal_execute") and not bindparam.literal_execute:
            kw["literal_binds"] = True
        return super().visit_bindparam(bindparam, **kw)


@cache
def _compiler_with_constants(base: type) -> type:
    """The dialect's compiler class (`base`), writing constants into the SQL."""
    return type(f"ConstantsInline{base.__name__}", (_ConstantsInline, base), {})


def _compile(statement: Select, dialect) -> _Compiled:
    compiled = _compiler_with_constants(dialect.statement_compiler)(dialect, statement)
    lists = tuple((name, bind.expanding) for name, bind in compiled.binds.items()
                  if bind.expanding or bind.literal_execute)
    # By the name construct_params gives each value (an anonymous literal's is
    # "param_1", not its key in compiled.binds).
    binds = tuple((compiled.bind_names[bind], convert) for bind in compiled.binds.values()
                  if (convert := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None)
    results = (column.type.dialect_impl(dialect).result_processor(dialect, None)
               for column in statement.selected_columns)
    converts = tuple((index, convert) for index, convert in enumerate(results) if convert is not None)
    for index, convert in converts:
        if convert(None) is not None:  # _converted passes NULLs by
            raise TypeError(f"a prepared read's column {index} reads NULL as {convert(None)!r}, not None")
    order = tuple(compiled.positiontup) if dialect.positional else None
    return _Compiled(compiled.string, compiled, order, binds, converts, lists, {})


def _converted(row: tuple, converts: tuple[tuple[int, Callable], ...]) -> list:
    row = list(row)
    for index, convert in converts:
        value = row[index]
        # A NULL stays None (each type's reads it so: _compile checks). Most of a
        # page of posts' times are NULL: never edited, never removed.
        if value is not None:
            row[index] = convert(value)
    return row


prepared = Prepared  # as a decorator: `@prepared def _posts(): return select(...)`


def every_column_of(model) -> Select:
    """A select of each column `model` maps, named by attribute: for as_loaded."""
    return select(*(getattr(model, attr.key).label(attr.key) for attr in inspect(model).column_attrs))


@cache
def loaded_row(model) -> type:
    """The named tuple of every_column_of(model)'s columns: the row as_loaded
    takes, made from the leading values of a wider read."""
    return namedtuple(f"{model.__name__}Row", every_column_of(model).selected_columns.keys())


def as_loaded(model, row):
    """The ORM object for `row` (from a prepared every_column_of(model) read), in the
    session as if the ORM had loaded it: in its identity map, its changes tracked
    and saved on commit. Half the ORM's own load, on every signed-in request
    (bench/findings.md, 24). An object the session holds already is
    the one returned, its expired values refreshed from the row (as a load would).
    On a page load with no session yet, the object waits for one, and joins it
    when it begins (page_load.py).
    """
    key = identity_key(model, row.id)
    if page_load.outside_session():
        return page_load.waiting(key, lambda: _detached(model, row, key))
    session = db.session()
    found = session.identity_map.get(key)
    if found is not None:
        for name in inspect(found).expired_attributes & set(row._fields):
            set_committed_value(found, name, getattr(row, name))
        return found
    instance = _detached(model, row, key)
    session.add(instance)
    return instance


def _detached(model, row, key: tuple):
    instance = manager_of_class(model).new_instance()
    instance.__dict__.update(row._asdict())  # the loaded values, as the ORM keeps them
    if _columns_only(model):
        # All it has loaded, nothing changed: what make_transient_to_detached
        # leaves a new instance holding every attribute, without its walk over
        # them (a tenth of reading the viewer; bench/findings.md, 47).
        instance_state(instance).key = key
    else:
        make_transient_to_detached(instance)  # committed state, with its identity; the rest to load
    return instance


@cache
def _columns_only(model) -> bool:
    """Whether every attribute `model` maps is a column (none a relationship)."""
    mapper = inspect(model)
    return len(mapper.attrs) == len(mapper.column_attrs)
