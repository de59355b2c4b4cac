"""Alembic environment, driven by Flask-Migrate (`flask --app app db ...`)."""
import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

from community.database import elsewhere_than
from community.timeutil import UTCDateTime

config = context.config
if config.config_file_name and not logging.getLogger().handlers:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

target_db = current_app.extensions["migrate"].db


def get_engine():
    return target_db.engine


def render_item(type_, obj, autogen_context):
    """Write our UTCDateTime as a plain DateTime, so migrations don't import app code."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False


def include_name(name, type_, parent_names):
    """Leave out what the models don't describe: SQLite's FTS5 tables, kept by migrations."""
    return not (type_ == "table" and name and name.startswith("search_fts"))


def include_object(obj, name, type_, reflected, compare_to):
    """What exists on PostgreSQL only (search's stored words and their GIN
    index) is no difference on SQLite."""
    return not elsewhere_than(context.get_bind().dialect.name, obj)


def skip_empty_revision(context, revision, directives):
    if getattr(config.cmd_opts, "autogenerate", False):
        script = directives[0]
        if script.upgrade_ops.is_empty():
            directives[:] = []
            logger.info("No changes in schema detected.")


def run_migrations_offline():
    url = get_engine().url.render_as_string(hide_password=False)
    context.configure(url=url, target_metadata=target_db.metadata, literal_binds=True,
                      render_item=render_item, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("process_revision_directives", skip_empty_revision)
    conf_args.setdefault("compare_type", True)
    conf_args.setdefault("render_item", render_item)
    conf_args.setdefault("include_name", include_name)
    conf_args.setdefault("include_object", include_object)
    with get_engine().connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # A batch migration copies a table and drops the old one; with foreign
            # keys on, SQLite's DROP TABLE first deletes every row that cascades
            # from it (a circle's members, threads, messages...). Off while
            # migrating (it can only change outside a transaction), checked after.
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        context.configure(connection=connection, target_metadata=target_db.metadata, **conf_args)
        with context.begin_transaction():
            context.run_migrations()
        if sqlite:
            driver = connection.connection.driver_connection
            broken = driver.execute("PRAGMA foreign_key_check").fetchall()
            driver.execute("PRAGMA foreign_keys=ON")
            if broken:  # told, not undone: the migration is committed by now
                logger.warning("Rows whose foreign keys point at nothing: %s", broken[:5])


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
