"""Paginated lists: every list page shows a bounded number of rows."""
from flask import request
from flask_sqlalchemy.pagination import SelectPagination

from .extensions import db


def page_number() -> int:
    """?page=N from the request, clamped to a sane positive number."""
    page = request.args.get("page", 1, type=int) or 1
    return min(max(page, 1), 10_000)


def paginate(query, per_page: int):
    """A Flask-SQLAlchemy Pagination of `query` for the requested page."""
    return db.paginate(query, page=page_number(), per_page=per_page, error_out=False,
                       max_per_page=per_page)


class RowPagination(SelectPagination):
    """A page of whole rows: a select of a model and columns beside it (the
    stock one keeps only each row's first column)."""

    def _query_items(self) -> list:
        query = self._query_args["select"].limit(self.per_page).offset(self._query_offset)
        return list(self._query_args["session"].execute(query))


def paginate_rows(query, per_page: int) -> RowPagination:
    """As paginate, for a select of several columns: items are rows."""
    return RowPagination(select=query, session=db.session(), page=page_number(),
                         per_page=per_page, error_out=False, max_per_page=per_page)
