"""Paginated lists: every list page shows a bounded number of rows."""
from flask import request

from .extensions import db


def page_number() -> int:
    """?page=N from the request, clamped to a sane positive number."""
    page = request.args.get("page", 1, type=int) or 1
    return min(max(page, 1), 10_000)


def paginate(query, per_page: int):
    """A Flask-SQLAlchemy Pagination of `query` for the requested page."""
    return db.paginate(query, page=page_number(), per_page=per_page, error_out=False,
                       max_per_page=per_page)
