"""Command-line tools: `flask --app app <command>`."""
import click
from flask import Flask

from .errors import ActionError


def init_app(app: Flask) -> None:
    @app.cli.command("seed-demo")
    def seed_demo():
        """Load the demo cohort (idempotent) and print its sign-ins."""
        from .database import lock_at_begin_for_this_command
        from .demo import DEMO_PASSWORD, seed

        lock_at_begin_for_this_command()
        people, created, extra = seed()
        click.echo("Demo data " + ("loaded." if created else "already present; nothing added."))
        click.echo(f"Demo sign-ins (password for all: {DEMO_PASSWORD}):")
        for user, note in people:
            click.echo(f"  {user.email:<42} {user.display_name} — {note}")
        for line in extra:
            click.echo(line)

    @app.cli.command("send-reminders")
    def send_reminders():
        """Send meeting reminders now due (24 hours ahead); safe to run again."""
        from .meetings.reminders import send_due_reminders

        click.echo(f"Sent {send_due_reminders()} meeting reminder(s).")

    @app.cli.command("send-follow-ups")
    def send_follow_ups():
        """Ask presenters how their challenge went, where now due; safe to run again."""
        from .challenges.actions import send_due_follow_ups

        click.echo(f"Asked {send_due_follow_ups()} presenter(s) how it went.")

    @app.cli.command("backup")
    @click.argument("path")
    def backup_command(path):
        """Back up the embedded database, and the stored files when they are on
        this host's disk, into the new directory PATH, safely, even while the app runs."""
        from flask import current_app

        from .backup import backup

        try:
            target = backup(current_app.config["SQLALCHEMY_DATABASE_URI"], path, _files_root(current_app))
        except ActionError as err:
            raise click.ClickException(err.message) from err
        click.echo(f"Backed up to {target}.")

    @app.cli.command("restore")
    @click.argument("path")
    def restore_command(path):
        """Replace the embedded database, and local stored files, with the backup at PATH
        (stop the server first)."""
        from flask import current_app

        from .backup import restore

        try:
            database, files = restore(current_app.config["SQLALCHEMY_DATABASE_URI"], path,
                                      _files_root(current_app))
        except ActionError as err:
            raise click.ClickException(err.message) from err
        click.echo(f"Restored {path} into {database} ({files} stored file(s) copied back). "
                   "Run `flask --app app db upgrade` if it is older.")

    @app.cli.command("create-admin")
    @click.argument("email")
    def create_admin(email):
        """Make an existing account a site admin."""
        from .accounts.actions import make_site_admin

        try:
            user = make_site_admin(email)
        except ActionError as err:
            raise click.ClickException(err.message) from err
        click.echo(f"{user.email} is now a site admin.")

    @app.cli.command("send-mail")
    def send_mail():
        """One pass of the mail worker: route notifications, digests, send the outbox."""
        from .notifications.worker import run_once

        result = run_once()
        click.echo("Routed {routed} notifications, queued {digests} digests, sent {sent} emails."
                   .format(**result))

    @app.cli.command("sweep-files")
    def sweep_files():
        """Delete files uploaded over a day ago and never attached, and their unused bytes."""
        from .files.actions import sweep_orphans

        click.echo(f"Deleted {sweep_orphans()} unattached file(s).")


def _files_root(app: Flask):
    """The directory of the stored files, if they are on this host's disk (None for S3)."""
    from .files.local import LocalStorage
    from .files.storage import storage_for

    storage = storage_for(app)
    return storage.root if isinstance(storage, LocalStorage) else None
