"""How every request is read: Flask's request, a little stricter about its input,
and its session cookie (fast.session_cookie)."""
from functools import lru_cache

from flask import Flask, Request
from werkzeug.datastructures import ImmutableMultiDict, MultiDict
from werkzeug.exceptions import BadRequest
from werkzeug.formparser import FormDataParser
from werkzeug.sansio.http import parse_cookie
from werkzeug.utils import cached_property

from .fast.session_cookie import KeptCookieSessionInterface
from .text import holds_unstorable

NUL = "\x00"


def _without_nul(data: MultiDict) -> MultiDict:
    """The same keys and values, less NUL characters and nameless entries.

    PostgreSQL can't hold a NUL in text, not even as a query parameter: an email
    address, a search or a member filter with one was a 500 there (SQLite took
    it). No field has a use for one, and clean_text() drops them anyway.
    """
    if None not in data and not any(NUL in key or (isinstance(value, str) and NUL in value)
                                    for key, value in data.items(multi=True)):
        return data
    return type(data)((key.replace(NUL, ""), value.replace(NUL, "")
                       if isinstance(value, str) else value)
                      for key, value in data.items(multi=True) if key is not None)


class _FormParser(FormDataParser):
    """Werkzeug's form parser, passing its fields through _without_nul().

    It also drops a multipart part with no field name (e.g. `Content-Disposition:
    form-data; name="\\r`): werkzeug files it under the key None, and Flask-WTF's
    CSRF check, which looks through the form's keys with `key.endswith(...)`,
    then failed: a malformed post was a 500. No form of ours has a nameless field.
    """

    def parse(self, *args, **kwargs):
        stream, form, files = super().parse(*args, **kwargs)
        return stream, _without_nul(form), _without_nul(files)


class CommunityRequest(Request):
    form_data_parser_class = _FormParser

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True):
        """The body's JSON, refused when it holds text no database stores
        (text.UNSTORABLE), as Socket.IO events' data is (chat/events.py).

        Flask-WTF reads JSON bodies as forms, past the form parser's NUL
        filter. JSON's "\\ud800" escape decodes to half a surrogate pair, which
        has no UTF-8 form: a form shown again with one could not be sent, a 500;
        a NUL was a 500 on PostgreSQL.
        """
        value = super().get_json(force=force, silent=silent, cache=cache)
        if holds_unstorable(value):
            if silent:
                return None
            raise BadRequest("The request's JSON holds a NUL or half a surrogate pair, which no text may.")
        return value

    @cached_property
    def args(self) -> MultiDict:
        """The query string's values, less NUL characters."""
        return _without_nul(Request.args.__get__(self, type(self)))

    @cached_property
    def cookies(self) -> ImmutableMultiDict:
        """The cookies, as werkzeug reads them: a browser sends the same header
        with every request, so each header is read once (bench/findings.md, 47).
        The answer can't be changed, so one request can't change another's."""
        return _cookies_of(";".join(self.headers.getlist("Cookie")), self.dict_storage_class)


@lru_cache(maxsize=512)
def _cookies_of(header: str, storage: type) -> ImmutableMultiDict:
    return parse_cookie(header, cls=storage)


def init_app(app: Flask) -> None:
    app.request_class = CommunityRequest
    app.session_interface = KeptCookieSessionInterface()
