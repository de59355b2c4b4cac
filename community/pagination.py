"""Paginated lists: every list page shows a bounded number of rows."""
from functools import lru_cache

from flask import request
from flask_sqlalchemy.pagination import SelectPagination
from sqlalchemy import func, select
from sqlalchemy.orm import lazyload

from .extensions import db
from .fast.prepared import Prepared, inline


def page_number() -> int:
    """?page=N from the request, clamped to a sane positive number."""
    page = request.args.get("page", 1, type=int) or 1
    return min(max(page, 1), 10_000)


def paginate(query, per_page: int):
    """A Flask-SQLAlchemy Pagination of `query` for the requested page."""
    return db.paginate(query, page=page_number(), per_page=per_page, error_out=False,
                       max_per_page=per_page)


class BoundPagination(SelectPagination):
    """A page of a statement built once with bindparams (queries' `@cache`d
    builders), run with its `params`. Its page and count statements are built
    once per statement too: building them on every request cost as much as
    running them (bench/findings.md, 29)."""

    def _query_items(self) -> list:
        args = self._query_args
        values = {**args["params"], "page_limit": self.per_page, "page_offset": self._query_offset}
        page, _ = self._statements()
        if not args["rows"]:
            return list(args["session"].execute(page, values).unique().scalars())
        rows = page.rows(values)  # plain rows: a prepared read (fast/prepared.py)
        if args["counted_beside"] and (rows or self.page == 1):
            args["total"] = rows[0].paged_total if rows else 0
        return rows

    def _query_count(self) -> int:
        args = self._query_args
        if args["total"] is not None:  # given, or counted with the page's rows
            return args["total"]
        _, count = self._statements()
        if args["rows"]:
            return count.scalar(args["params"])
        return args["session"].execute(count, args["params"]).scalar()

    def _statements(self) -> tuple:
        """The page's and the count's statements: prepared reads for plain rows."""
        args = self._query_args
        making = _prepared_paging if args["rows"] else _paging_statements
        return making(args["select"], args["shown"], args["counted_beside"])


@lru_cache(maxsize=64)
def _paging_statements(statement, shown=None, counted_beside=False):
    count = select(func.count()).select_from(statement.options(lazyload("*")).order_by(None).subquery())
    page = statement
    if counted_beside:  # a subquery of its own: run once, whatever the rows
        page = page.add_columns(count.correlate(None).scalar_subquery().label("paged_total"))
    page = page.limit(inline("page_limit")).offset(inline("page_offset"))
    if shown is not None:
        page = shown(page.subquery())
    return page, count


def paginate_bound(statement, params: dict, per_page: int, rows: bool = False, shown=None,
                   counted_beside: bool = False, total: int | None = None) -> BoundPagination:
    """As paginate, for a statement built once: `params` are its values. With
    rows=True its items are whole rows (a select of a model and columns beside
    it, or of columns), not each row's first column. `shown`, given the page
    of the statement's rows as a subquery, selects what the page shows of
    them: names looked up for the page's rows alone, out of the statement
    that finds and counts them.

    How the rows are counted (PostgreSQL pays a round trip for each statement;
    bench/findings.md, 39): by a statement of their own; with
    counted_beside=True (plain rows), by that statement as a column of the
    page's (`paged_total`, asked once whatever the rows), and alone only past
    the last page, where no row brings it; or given as `total`, counted with
    something else the page shows."""
    if counted_beside and (shown or not rows):
        raise ValueError("counted_beside counts beside a page of plain rows, as found")
    return BoundPagination(select=statement, params=params, rows=rows, shown=shown,
                           counted_beside=counted_beside, total=total, session=db.session,
                           page=page_number(), per_page=per_page, error_out=False, max_per_page=per_page)


@lru_cache(maxsize=64)
def _prepared_paging(statement, shown=None, counted_beside=False) -> tuple[Prepared, Prepared]:
    page, count = _paging_statements(statement, shown, counted_beside)
    return Prepared(lambda: page), Prepared(lambda: count)
