"""community/content.py: Markdown in, safe HTML out."""
import pytest

from community.content import highlight, mentioned_handles, plain_text, render
from tests.safety import PAYLOADS, active_content

REL = 'rel="nofollow noopener noreferrer ugc"'


def test_the_corpus_is_big_enough():
    assert len(PAYLOADS) >= 60


@pytest.mark.parametrize("payload", PAYLOADS)
def test_no_payload_survives_rendering(payload):
    html = render(payload)
    assert active_content(html) == []
    for tag in ("<script", "<style", "<iframe", "<form", "<img", "<svg", "<object", "<embed"):
        assert tag not in html.lower()


@pytest.mark.parametrize("source,expected", [
    ("**bold** _it_ ~~gone~~", "<strong>bold</strong> <em>it</em> <s>gone</s>"),
    ("| a | b |\n|---|---|\n| 1 | 2 |", "<td>1</td>"),
    ("```python\nprint(1)\n```", '<pre><code class="language-python">print(1)'),
    ("see https://example.org/x", f'<a href="https://example.org/x" {REL}>'),
    ("[mail](mailto:a@example.org)", f'<a href="mailto:a@example.org" {REL}>'),
    ("> quoted", "<blockquote>"),
])
def test_markdown_features(source, expected):
    assert expected in render(source)


def test_raw_html_is_shown_as_text():
    assert render("<b>hi</b>") == "<p>&lt;b&gt;hi&lt;/b&gt;</p>\n"


def test_every_link_gets_rel_even_if_the_source_set_one():
    html = render('[x](http://example.org "t")')
    assert REL in html and html.count("rel=") == 1


@pytest.mark.parametrize("scheme", ["javascript:alert(1)", "data:text/html,x", "vbscript:x",
                                    "file:///etc/passwd", "ftp://example.org/"])
def test_only_http_https_and_mailto_links(scheme):
    assert "href" not in render(f"[x]({scheme})")


def test_images_become_links_so_no_tracker_loads():
    html = render("![the chart](https://example.org/chart.png)")
    assert "<img" not in html
    assert f'<a href="https://example.org/chart.png" {REL}>the chart</a>' in html


def test_mentions_link_only_the_allowed_handles():
    html = render("hi @amara and @stranger, `@amara` and a@amara.org", {"amara": "/people/7"})
    assert html.count('href="/people/7"') == 1
    assert "@stranger" in html and "/people/" not in html.replace('href="/people/7"', "")


def test_mentioned_handles():
    assert mentioned_handles("@Amara and @bob_2, not x@y.z") == {"amara", "bob_2"}


def test_highlight_escapes_everything_but_its_marks():
    marked = str(highlight("<b>Prison</b> & lt", ["prison", "lt"]))
    assert marked == "&lt;b&gt;<mark>Prison</mark>&lt;/b&gt; &amp; <mark>lt</mark>"


def test_plain_text_of_html():
    assert plain_text("<p>a &amp; <strong>b</strong></p>\n<p>c</p>") == "a & b c"
