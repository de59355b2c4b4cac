"""What the test run compiles once and shares between apps (tests/route_builders.py,
tests/template_code.py, tests/compiled_sql.py) is what each app would have
compiled itself, so no test sees other URLs, pages or SQL."""
import re
import shutil

import pytest
from sqlalchemy import create_engine, select

from community import create_app
from community.accounts.models import User
from community.extensions import db
from tests import compiled_sql, route_builders, template_code
from tests.conftest import app_config


def _code(builder):
    code = builder.__func__.__code__
    return (code.co_code, code.co_consts, code.co_names, code.co_varnames, code.co_argcount,
            builder.__func__.__defaults__)


@pytest.fixture
def fresh_app(tmp_path):
    """An app whose builders Werkzeug compiles itself."""
    route_builders.uninstall()
    try:
        return create_app(app_config(f"sqlite:///{tmp_path}/fresh.sqlite3"))
    finally:
        route_builders.install()


def test_every_rule_builds_its_urls_as_werkzeug_compiles_them(tmp_path, fresh_app):
    shared = [create_app(app_config(f"sqlite:///{tmp_path}/{n}.sqlite3")) for n in range(2)]
    fresh = {(r.endpoint, r.rule): r for r in fresh_app.url_map.iter_rules()}
    for app in shared:
        rules = {(r.endpoint, r.rule): r for r in app.url_map.iter_rules()}
        assert rules.keys() == fresh.keys()
        for key, rule in rules.items():
            assert _code(rule._build) == _code(fresh[key]._build), key
            assert _code(rule._build_unknown) == _code(fresh[key]._build_unknown), key
            assert rule._build.__self__ is rule  # bound to its own rule, as Werkzeug binds it
    # The second app reuses the first's builders (what makes building an app cheap).
    first, second = ({r.rule: r for r in app.url_map.iter_rules()} for app in shared)
    assert all(second[k]._build.__func__ is first[k]._build.__func__ for k in second)


def test_urls_built_by_shared_builders_match(tmp_path, fresh_app):
    app = create_app(app_config(f"sqlite:///{tmp_path}/shared.sqlite3"))
    for one in (app, fresh_app):
        one.config["SERVER_NAME"] = "circles.test"
    samples = []
    for rule in fresh_app.url_map.iter_rules():
        values = {arg: 7 if "id" in arg or "number" in arg else "x-y" for arg in rule.arguments}
        samples.append((rule.endpoint, {**values, "extra": "a b"}))
    built = []
    for one in (app, fresh_app):
        with one.test_request_context():
            from flask import url_for

            urls = []
            for endpoint, values in samples:
                try:
                    urls.append(url_for(endpoint, **values))
                except Exception as exc:  # noqa: BLE001 - the same error either way
                    urls.append(type(exc).__name__)
            built.append(urls)
    assert built[0] == built[1]
    assert any("extra=a+b" in url for url in built[0])


@pytest.fixture
def own_templates_app(tmp_path):
    """An app whose Jinja environment compiles every template itself."""
    template_code.uninstall()
    try:
        app = create_app(app_config(f"sqlite:///{tmp_path}/own.sqlite3"))
    finally:
        template_code.install()
    assert app.jinja_env.bytecode_cache is None
    return app


def _template_code(app, name):
    template = app.jinja_env.get_template(name)
    return (template.root_render_func.__code__,
            {block: render.__code__ for block, render in template.blocks.items()})


def test_every_template_runs_the_code_jinja_compiles_for_it(tmp_path, own_templates_app):
    names = own_templates_app.jinja_env.list_templates()
    assert len(names) > 50
    first, second = (create_app(app_config(f"sqlite:///{tmp_path}/{n}.sqlite3")) for n in range(2))
    for name in names:
        _template_code(first, name)  # compiled here once, and kept
    assert len(template_code.SHARED.code) >= len(names)
    for name in names:
        assert _template_code(second, name) == _template_code(own_templates_app, name), name


def test_pages_render_the_same_with_shared_templates(tmp_path, own_templates_app, make_app):
    shared = make_app()
    pages = []
    for app in (shared, own_templates_app):
        client = app.test_client()
        bodies = [client.get(path).get_data(as_text=True)
                  for path in ("/auth/login", "/auth/register", "/no-such-page")]
        pages.append([re.sub(r'value="[^"]*"', "", body) for body in bodies])
    assert pages[0] == pages[1]
    assert "Sign in" in pages[0][0]


def _statements():
    return [select(User).where(User.email == "a@example.org"),
            select(User.id, User.display_name).where(User.id.in_([1, 2])).order_by(User.id).limit(3)]


def _run(engine, statement):
    with engine.connect() as conn:
        result = conn.execute(statement)
        rows = result.all()
        return result.context.compiled.string, rows, result.context.cache_hit, result.context.dialect


def test_each_statement_is_compiled_once_and_as_its_own_engine_would(schema_template, tmp_path):
    path = tmp_path / "db.sqlite3"
    shutil.copy(schema_template, path)
    compiled_sql.uninstall()
    try:
        own = create_engine(f"sqlite:///{path}")
        expected = [_run(own, statement)[:2] for statement in _statements()]
    finally:
        compiled_sql.install()
        own.dispose()
    apps = [create_app(app_config(f"sqlite:///{path}")) for _ in range(2)]
    hits = []
    for app in apps:
        with app.app_context():
            runs = [_run(db.engine, statement) for statement in _statements()]
            assert [run[:2] for run in runs] == expected
            hits.append([run[2] == run[3].CACHE_HIT for run in runs])
            db.engine.dispose()
    assert hits[1] == [True, True]  # the second app's engine compiled nothing


def test_a_dialect_configured_otherwise_compiles_its_own(schema_template, tmp_path):
    path = tmp_path / "db.sqlite3"
    shutil.copy(schema_template, path)
    default, named = create_engine(f"sqlite:///{path}"), create_engine(f"sqlite:///{path}",
                                                                       paramstyle="named")
    try:
        sql = [_run(engine, _statements()[0])[0] for engine in (default, named, default)]
    finally:
        default.dispose()
        named.dispose()
    assert "?" in sql[0] and ":email_1" in sql[1] and sql[2] == sql[0]
