"""The page that shows a new set of recovery codes, this once (an authenticator
app turned on, the first passkey added, or a new set asked for)."""
from flask import current_app, render_template


def recovery_codes_page(codes: list[str]):
    response = current_app.make_response(render_template("accounts/recovery_codes.html",
                                                         codes=codes))
    response.headers["Cache-Control"] = "no-store"  # shown once: not even the back button
    return response
