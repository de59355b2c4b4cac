"""Checks that a page can't run anything a user wrote."""
import re
from html.parser import HTMLParser
from pathlib import Path

PAYLOADS = [line for line in (Path(__file__).parent / "data" / "xss_payloads.txt")
            .read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("# ")]

URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "background", "poster",
                  "data", "srcdoc", "content"}
DANGEROUS_TAGS = {"iframe", "object", "embed", "base", "frame", "frameset", "applet", "link"}
BAD_SCHEME = re.compile(r"^(javascript|data|vbscript):", re.IGNORECASE)


class _Inspector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            src = attrs.get("src") or ""
            if not src.startswith("/static/"):
                self.problems.append(f"script element: {attrs}")
            self._in_script = True
        if tag in DANGEROUS_TAGS and not (tag == "link" and _own_link(attrs)):
            self.problems.append(f"<{tag}> element: {attrs}")
        if tag == "meta" and "http-equiv" in attrs:
            self.problems.append(f"meta http-equiv: {attrs}")
        for name, value in attrs.items():
            if name.startswith("on"):
                self.problems.append(f"{name} attribute on <{tag}>")
            if name in URL_ATTRIBUTES and value and BAD_SCHEME.match(_squash(value)):
                self.problems.append(f"{name}={value!r} on <{tag}>")

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.problems.append(f"inline script: {data[:80]!r}")


def _own_link(attrs: dict) -> bool:
    return (attrs.get("href") or "").startswith("/static/")


def _squash(url: str) -> str:
    """What a browser would read as the scheme: controls and spaces are dropped."""
    return re.sub(r"[\x00-\x20]", "", url)


def active_content(html: str) -> list[str]:
    """Everything in the page that could run script; [] when the page is safe."""
    inspector = _Inspector()
    inspector.feed(html)
    inspector.close()
    return inspector.problems
