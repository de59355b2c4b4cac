"""Command-line tools: `flask --app app <command>`."""
import click
from flask import Flask

from .errors import ActionError


def init_app(app: Flask) -> None:
    @app.cli.command("seed-demo")
    def seed_demo():
        """Load the demo cohort (idempotent) and print its sign-ins."""
        from .demo import DEMO_PASSWORD, seed

        people, created, extra = seed()
        click.echo("Demo data " + ("loaded." if created else "already present; nothing added."))
        click.echo(f"Demo sign-ins (password for all: {DEMO_PASSWORD}):")
        for user, note in people:
            click.echo(f"  {user.email:<42} {user.display_name} — {note}")
        for line in extra:
            click.echo(line)

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
