"""A worker loads the WebAuthn library (and pydantic, 20 MB together) only when
a passkey route is first used: the bench's memory budget is 150 MB a worker."""
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import sys
    from community import create_app
    from community.extensions import db
    from tests.conftest import AuthActions, app_config
    from tests.factories import make_user

    app = create_app(app_config("sqlite:///" + sys.argv[1]))
    with app.app_context():
        db.create_all()
        user = make_user("Rachel Stone", email="rachel@example.org")
        db.session.commit()
        client = app.test_client()
        for path in ("/auth/login", "/"):
            client.get(path)
        assert AuthActions(client).login(user).status_code == 302
        for path in ("/", "/settings/security", "/people"):
            assert client.get(path).status_code == 200, path
        print("webauthn" in sys.modules)
        assert client.get("/settings/security/passkeys").status_code == 200
        print("webauthn" in sys.modules)
""")


def test_the_passkey_library_is_loaded_on_a_passkey_routes_first_use(tmp_path):
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "db.sqlite3")], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["False", "True"]
