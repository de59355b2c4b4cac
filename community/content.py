"""User content: Markdown to safe HTML. The only module that calls markdown-it or bleach.

Markdown (CommonMark plus tables, strikethrough and autolinks) is rendered
with raw HTML off, so any HTML in the source comes out as text; bleach then
keeps only an allow-list of tags and attributes and http/https/mailto links,
and every link gets rel="nofollow noopener noreferrer ugc". Bleach is in
maintenance mode (security fixes only): keep it behind this module, with the
strict Content-Security-Policy (community/security.py) behind it.
"""
import html as html_lib
import re
from functools import lru_cache

import bleach
from bleach.html5lib_shim import Filter
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup, escape

ALLOWED_TAGS = frozenset({
    "p", "br", "hr", "strong", "em", "del", "s", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "h1", "h2", "h3", "h4", "h5", "h6",
    "table", "thead", "tbody", "tr", "th", "td",
})
ALLOWED_ATTRIBUTES = {
    "a": ["href", "title", "rel", "class"],
    "code": ["class"],  # language-xyz from fenced blocks
    "ol": ["start"],
}
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow noopener noreferrer ugc"
# @handle: letters, digits and underscores, not inside a word or an email address.
MENTION = re.compile(r"(?<![\w@.])@([a-z0-9_]{2,40})\b", re.IGNORECASE)


class _LinkRel(Filter):
    """Give every link the same rel, whatever the source said; internal ones too."""

    def __iter__(self):
        for token in super().__iter__():
            if token["type"] in ("StartTag", "EmptyTag") and token["name"] == "a":
                attrs = dict(token.get("data", {}))
                attrs[(None, "rel")] = LINK_REL
                token["data"] = attrs
            yield token


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": True, "typographer": False})
    md.enable(["table", "strikethrough", "linkify"])
    md.core.ruler.push("mentions", _mentions_rule)
    md.add_render_rule("image", _image_as_link)
    return md


def _image_as_link(renderer, tokens, idx, options, env) -> str:
    """Show an image as a link to it: loading others' images would tell their
    hosts who is reading the circle, and when."""
    token = tokens[idx]
    alt = renderer.renderInlineAsText(token.children or [], options, env) or "image"
    return f'<a href="{escape(token.attrGet("src") or "")}">{escape(alt)}</a>'


@lru_cache(maxsize=1)
def _cleaner() -> bleach.Cleaner:
    return bleach.Cleaner(tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                          protocols=ALLOWED_PROTOCOLS, strip=True, strip_comments=True,
                          filters=[_LinkRel])


def _mentions_rule(state) -> None:
    """Turn @handle into a link for the handles the caller allows (env["mentions"]).

    Text inside links and code spans is left alone; unknown handles stay text,
    so mentioning someone outside the circle shows and reveals nothing.
    """
    allowed: dict[str, str] = state.env.get("mentions") or {}
    if not allowed:
        return
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        children, depth = [], 0
        for token in block.children:
            if token.type == "link_open":
                depth += 1
            elif token.type == "link_close":
                depth -= 1
            if token.type != "text" or depth or "@" not in token.content:
                children.append(token)
                continue
            children.extend(_split_mentions(token.content, allowed))
        block.children = children


def _split_mentions(text: str, allowed: dict[str, str]) -> list[Token]:
    out, last = [], 0
    for match in MENTION.finditer(text):
        handle = match.group(1).lower()
        if handle not in allowed:
            continue
        if match.start() > last:
            out.append(_text(text[last:match.start()]))
        link = Token("link_open", "a", 1)
        link.attrs = {"href": allowed[handle], "class": "mention"}
        out += [link, _text("@" + handle), Token("link_close", "a", -1)]
        last = match.end()
    if last < len(text):
        out.append(_text(text[last:]))
    return out


def _text(content: str):
    token = Token("text", "", 0)
    token.content = content
    return token


def render(source: str, mentions: dict[str, str] | None = None) -> str:
    """Markdown source -> sanitised HTML, safe to store and show as is.

    :param mentions: handle -> profile path, for the people who may be mentioned.
    """
    html = _markdown().render(source or "", {"mentions": mentions or {}})
    return _cleaner().clean(html)


def mentioned_handles(source: str) -> set[str]:
    """Every @handle written in the source (whether or not it names anyone)."""
    return {m.group(1).lower() for m in MENTION.finditer(source or "")}


def highlight(text: str, terms: list[str], whole_words: bool = False) -> Markup:
    """Plain text with each search term wrapped in <mark>; everything else escaped.

    With whole_words, a term marks every word that starts with it, so the stem
    "prison" marks "Prisons" and "prisoner" as the search engine matched them.
    """
    words = tuple(sorted({t for t in terms if t.strip()}, key=len, reverse=True))
    if not words:
        return escape(text)
    pieces = _highlighter(words, whole_words).split(text)
    # split() with one group alternates: outside, match, outside, match, ...
    # Each piece escaped, joined as plain text: a search page marks 40 texts.
    return Markup("".join(f"<mark>{escape(piece)}</mark>" if i % 2 else escape(piece)  # nosec B704
                          for i, piece in enumerate(pieces)))


@lru_cache(maxsize=256)
def _highlighter(words: tuple[str, ...], whole_words: bool) -> re.Pattern:
    alternatives = "|".join(re.escape(w) for w in words)
    return re.compile(rf"(\b(?:{alternatives})\w*)" if whole_words else f"({alternatives})", re.IGNORECASE)


def plain_text(html: str) -> str:
    """The words of stored safe HTML, as plain text (for search)."""
    return " ".join(html_lib.unescape(bleach.clean(html or "", tags=set(), strip=True)).split())


def plain_excerpt(html: str, length: int = 160) -> str:
    """plain_text, shortened (for previews)."""
    text = plain_text(html)
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"
