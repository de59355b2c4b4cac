"""constraints.txt (what `make install` installs) against pyproject.toml (what the app accepts)."""
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent

# The first release with the fix for every advisory known against these (README "Dependencies").
SECURITY_MINIMUMS = {
    "python-engineio": "4.13.2",  # CVE-2026-48802, CVE-2026-48809
    "python-socketio": "5.16.2",  # CVE-2026-48804
    "icalendar": "7.3.2",
    "flask": "3.1.3",  # CVE-2026-27205
    "aiosmtpd": "1.4.6",
    "setuptools": "78.1.1",
}


def _pins() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep, f"not an exact pin: {line!r}"
        pins[canonicalize_name(name)] = Version(version)
    return pins


def _declared() -> list[Requirement]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = pyproject["project"]
    return [Requirement(r) for r in (pyproject["build-system"]["requires"] + project["dependencies"]
                                     + project["optional-dependencies"]["test"])]


def test_every_declared_dependency_is_pinned_within_its_range():
    pins = _pins()
    for req in _declared():
        if req.marker is not None and not req.marker.evaluate():
            continue
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is in pyproject.toml but not in constraints.txt: make constraints"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {req.name}=={pins[name]}, outside {req} (pyproject.toml): "
            "make constraints")


@pytest.mark.parametrize("name", sorted(SECURITY_MINIMUMS))
def test_security_minimums_are_pinned_and_declared(name):
    minimum = Version(SECURITY_MINIMUMS[name])
    assert _pins()[name] >= minimum, f"constraints.txt pins {name} below {minimum}"
    floors = [Version(spec.version) for req in _declared() if canonicalize_name(req.name) == name
              for spec in req.specifier if spec.operator in (">=", "==", "~=")]
    assert floors and min(floors) >= minimum, f"pyproject.toml lets {name} go below {minimum}"
