"""No import cycles between the package's modules, counting imports inside
functions too: an import moved into a function hides a cycle from Python's
loader, not from the reader (kept fragments and the templating that renders
them each imported the other).
"""
import ast
from pathlib import Path

import community

PACKAGE = Path(community.__file__).parent


def module_name(path: Path) -> str:
    parts = ("community", *path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def _resolve(importer: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = importer if MODULES[importer].name == "__init__.py" else importer.rsplit(".", 1)[0]
    base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
    return f"{base}.{node.module}" if node.module else base


def imports_of(name: str) -> set[str]:
    """The package's modules this module imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(name, node)
            modules = {f"{target}.{a.name}" for a in node.names} & MODULES.keys()
            # `from . import views` imports the module views, not the package again.
            found |= modules if node.module is None and modules else {target, *modules}
    return {m for m in found if m in MODULES and m != name}


def cycles() -> list[list[str]]:
    graph = {name: imports_of(name) for name in MODULES}
    found, done, path = [], set(), []

    def visit(name):
        if name in path:
            found.append(path[path.index(name):] + [name])
            return
        if name in done:
            return
        path.append(name)
        for target in sorted(graph[name]):
            visit(target)
        path.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)
    return found


def test_no_import_cycle():
    assert cycles() == []


def test_the_checker_sees_relative_imports():
    assert "community.policy" in imports_of("community.circles.pages")      # from ..policy import
    assert "community.threads.actions" in imports_of("community.threads.views")  # from . import actions
    assert "community.circles.models" in imports_of("community.policy")     # from .circles.models
    assert "community.threads.models" in imports_of("community.policy")     # inside a function
    assert "community" not in imports_of("community.templating")            # from . import policy
