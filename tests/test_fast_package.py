"""The performance layer (community/fast) stands below the app's areas: it
imports none of them, so nothing in it can be part of an import cycle with them."""
import ast
from pathlib import Path

import community.fast

FAST = Path(community.fast.__file__).parent
ALLOWED = {"extensions", "security"}  # neither imports anything of community but LEAVES
LEAVES = {"fast.page_load"}  # the Session class extensions.db makes: it imports nothing of community


def _community_imports(path: Path) -> set[str]:
    found = set()
    package = "fast." if path.parent == FAST else ""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                found.add(f"{package}{node.module}")
            elif node.level >= 2 or (node.module or "").startswith("community"):
                found.add((node.module or "").removeprefix("community."))
        elif isinstance(node, ast.Import):
            found |= {a.name.removeprefix("community.") for a in node.names if a.name.startswith("community")}
    return found


def test_the_fast_package_imports_nothing_of_the_app_but_extensions_and_security():
    for path in FAST.glob("*.py"):
        outside = {name for name in _community_imports(path) if not name.startswith("fast.")}
        assert outside <= ALLOWED, (path.name, outside)
    for name in ALLOWED:
        assert _community_imports(FAST.parent / f"{name}.py") <= LEAVES, name
    for name in LEAVES:
        assert not _community_imports(FAST / f"{name.removeprefix('fast.')}.py"), name
