"""traces.render: markdown made safe, code highlighted, JSON trees, images, folding (pure, no database)."""

import re

import pytest

from traces import render


def test_markdown_renders_headings_bold_lists_and_links():
    out = render.markdown("# Title\n\n**bold** and *it*\n\n- a\n- b\n\n[docs](https://example.com/x)")
    assert "<h1>Title</h1>" in out
    assert "<strong>bold</strong>" in out and "<em>it</em>" in out
    assert "<li>a</li>" in out
    assert '<a href="https://example.com/x" rel="noopener noreferrer nofollow">docs</a>' in out


def test_raw_html_in_markdown_is_text():
    out = render.markdown("<script>alert(1)</script>\n\n<b onclick=x()>hi</b>")
    assert "<script" not in out and "<b" not in out
    assert "&lt;b onclick=x()&gt;hi&lt;/b&gt;" in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "vbscript:msgbox(1)",
    ],
)
def test_dangerous_links_never_become_hrefs(link):
    out = render.markdown(f"[click]({link}) <{link}>")
    assert "href" not in out


@pytest.mark.parametrize(
    "fragment",
    [
        '<a href="javascript:alert(1)">x</a>',
        '<a href="data:text/html,<script>alert(1)</script>">x</a>',
        '<img src="x" onerror="alert(1)">',
        '<img src="data:text/html;base64,PHNjcmlwdD4=">',
        '<img src="https://evil.example/pixel.png">',
        '<div onclick="alert(1)" style="position:fixed">x</div>',
        "<svg><script>alert(1)</script></svg>",
        '<iframe src="https://evil.example"></iframe>',
        "<form action='https://evil.example'><input name=a></form>",
    ],
)
def test_the_sanitiser_drops_scripts_handlers_and_unsafe_urls(fragment):
    out = render.sanitize(fragment)
    lowered = out.lower()
    assert "javascript:" not in lowered
    assert "data:text" not in lowered
    assert not re.search(r"\son\w+=", lowered)
    for tag in ("<script", "<iframe", "<form", "<input", "<svg", "style="):
        assert tag not in lowered
    assert "evil.example/pixel" not in lowered  # remote images never load from text


def test_the_sanitiser_keeps_raster_data_images():
    out = render.sanitize('<img src="data:image/png;base64,iVBORw0KGgo=" alt="a">')
    assert out == '<img src="data:image/png;base64,iVBORw0KGgo=" alt="a">'


def test_a_markdown_image_with_a_url_is_a_link_not_a_request():
    out = render.markdown("![secret](https://evil.example/?q=leak)")
    assert "<img" not in out
    assert '<a href="https://evil.example/?q=leak" rel="noopener noreferrer nofollow">[image: secret]</a>' in out


def test_code_blocks_are_highlighted_when_their_language_is_known():
    out = render.markdown("```python\ndef f():\n    return 1\n```")
    assert out.startswith('<pre class="hl"><code class="language-python"><span class="k">def</span>')
    plain = render.markdown("```nosuchlanguage\n<b>x</b>\n```")
    assert '<code class="language-nosuchlanguage">&lt;b&gt;x&lt;/b&gt;' in plain


def test_a_hostile_language_name_cannot_break_out_of_the_class():
    out = render.markdown('```"><script>alert(1)</script>\nx\n```')
    assert "<script" not in out
    assert '<code class="language-scriptalert1script">' in out or "<code>" in out


def test_very_long_text_is_plain_escaped_text():
    text = "# not a heading <b>\n" * (render.MARKDOWN_MAX_CHARS // 10)
    out = render.markdown(text)
    assert out.startswith('<pre class="text"># not a heading &lt;b&gt;')


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://example.com/a.png", True),
        ("http://example.com/a.png", True),
        ("data:image/png;base64,iVBORw0KGgo=", True),
        ("data:image/jpeg;base64,/9j/4AAQ", True),
        ("data:image/svg+xml;base64,PHN2Zz4=", False),
        ("data:text/html;base64,PHNjcmlwdD4=", False),
        ("javascript:alert(1)", False),
        ("https:///nohost", False),
        ("/relative.png", False),
        (None, False),
    ],
)
def test_image_src_allows_http_urls_and_raster_data_uris_only(url, ok):
    assert (render.image_src(url) is not None) is ok


def test_json_tree_escapes_keys_and_values_and_opens_the_first_levels():
    out = render.json_tree({"<k>": "<script>", "n": [1, {"deep": {"deeper": True}}]})
    assert "<script>" not in out and "<k>" not in out
    assert '<span class="jk">&lt;k&gt;</span>: <span class="jv jstr">&quot;&lt;script&gt;&quot;</span>' in out
    assert out.count('<details class="jnode" open>') == 2  # the root and "n"
    assert out.count("<details") == 4


def test_json_tree_parses_json_text_and_bounds_huge_values():
    assert '<span class="jk">city</span>' in render.json_tree('{"city": "Paris"}')
    big = {str(i): {"v": i} for i in range(render.TREE_MAX_NODES * 2)}
    out = render.json_tree(big)
    assert out.count("<details") <= render.TREE_MAX_NODES
    assert "jmore" in out


def test_conversation_shows_a_plain_string_input_beside_output_messages():
    sides = render.conversation(
        input_messages=[],
        output_messages=[{"role": "assistant", "content": "Paris."}],
        input_text="Capital of France?",
        output_text="",
    )
    assert [title for title, _ in sides] == ["Input", "Output"]
    assert sides[0][1][0].copy == "Capital of France?"
    assert sides[1][1][0].role == "assistant"


def test_message_parts_images_text_and_json():
    msg = render.message(
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "look"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}},
                {"type": "image", "source": {"type": "base64", "media_type": "text/html", "data": "PHA+"}},
                {"type": "blob", "mime_type": "image/webp", "content": "UklG"},
            ],
        }
    )
    kinds = [p.kind for p in msg.parts]
    assert kinds == ["text", "image", "json", "image"]
    assert msg.parts[1].src == "data:image/png;base64,iVBO" and msg.parts[1].link == ""
    assert msg.copy == "look\n\n" + msg.parts[2].copy


def test_long_text_folds():
    assert render.is_long("x\n" * render.FOLD_LINES)
    assert not render.is_long("short")
    assert 'class="fold-toggle"' in render.fold("<p>x</p>", long=True)
    assert render.fold("<p>x</p>", long=False) == "<p>x</p>"
