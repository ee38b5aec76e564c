"""Span content as people read it: markdown made safe, code highlighted, JSON as a tree, images as thumbnails.

Pure functions: plain data in, HTML strings out (already safe: every user byte is escaped or sanitised here, so
templates mark the result safe and nothing else). The span panel's template filters (traces/templatetags/
span_panel.py) are thin wrappers.

Safety, in two layers: markdown-it renders with raw HTML disabled (a <script> in a message is text), then nh3
(ammonia) keeps only an allow-list of tags and attributes and only http(s)/mailto links. Images: http(s) URLs and
data: URIs of raster image types only (no SVG, no text/html). A markdown image inside message text is shown as a
link, not loaded: an LLM's output must not make the viewer's browser call a URL it chose (the markdown-image
exfiltration trick); images given as message parts (what the user sent the model) are shown as thumbnails.
"""

from __future__ import annotations

import contextlib
import html
import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt
from pygments import highlight as _pygments_highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

MARKDOWN_MAX_CHARS = 100_000  # above this a text is shown as plain text: markdown-it is pure Python (~1 s/MB)
FOLD_CHARS = 1_200  # a text longer than this, or with more lines than FOLD_LINES, starts folded ("show all")
FOLD_LINES = 18
TREE_MAX_NODES = 3_000  # a bigger JSON value shows its first nodes as a tree, then the rest as text
NESTED_JSON_MAX_CHARS = 100_000  # a string value holding JSON up to this size is shown as a tree too
TREE_OPEN_DEPTH = 2  # levels open at first; deeper objects start collapsed

_DATA_IMAGE = re.compile(r"data:image/(?:png|jpeg|jpg|gif|webp|avif|bmp);base64,[A-Za-z0-9+/=\s]*\Z", re.IGNORECASE)

_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "b", "i", "del", "s", "code", "pre",
    "blockquote", "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td", "span", "div",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "ol": {"start"}, "span": {"class"},
               "code": {"class"}, "pre": {"class"}, "div": {"class"}}  # fmt: skip


def image_src(url: Any) -> str | None:
    """The URL if a browser may load it as an image here: http(s) with a host, or a raster data:image URI."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    if _DATA_IMAGE.match(url):
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        return url
    return None


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    if tag == "img" and attr == "src":
        return value if _DATA_IMAGE.match(value.strip()) else None  # remote images never load from text
    if tag == "a" and attr == "href":
        scheme = urlsplit(value.strip()).scheme.lower() if ":" in value else ""
        return value if scheme in ("http", "https", "mailto", "") else None
    return value


def sanitize(fragment: str) -> str:
    """An HTML fragment reduced to the allow-list: no script, no on* handlers, no javascript:/data:text links."""
    return nh3.clean(
        fragment,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        attribute_filter=_attribute_filter,
        url_schemes={"http", "https", "mailto", "data"},  # data: only survives on <img> (the filter above)
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


_FORMATTER = HtmlFormatter(nowrap=True)


def highlight(code: str, lang: str) -> str:
    """A code block as <pre class="hl">: Pygments token spans when the language is named and known, else escaped."""
    name = (lang or "").strip().split()[0].lower() if (lang or "").strip() else ""
    css = re.sub(r"[^a-z0-9_+-]", "", name)
    body = html.escape(code)
    if name:
        with contextlib.suppress(ClassNotFound):  # an unknown language: plain, escaped
            body = _pygments_highlight(code, get_lexer_by_name(name), _FORMATTER)
    lang_class = f' class="language-{css}"' if css else ""
    return f'<pre class="hl"><code{lang_class}>{body}</code></pre>'


def _markdown_it() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False, "breaks": True})
    md.enable(["table", "strikethrough"])
    md.options["highlight"] = lambda code, lang, attrs: highlight(code, lang)

    def image_as_link(renderer, tokens, idx, options, env):  # see the module docstring: text never loads remote images
        token = tokens[idx]
        src = str(token.attrGet("src") or "")
        alt = html.escape(token.content or "image")
        if _DATA_IMAGE.match(src.strip()):
            return f'<img src="{html.escape(src)}" alt="{alt}">'
        return f'<a href="{html.escape(src)}">[image: {alt}]</a>'

    md.add_render_rule("image", image_as_link)
    return md


_MD = _markdown_it()


def markdown(text: str) -> str:
    """Markdown to safe HTML; a text too long to parse quickly is shown as escaped plain text."""
    if not text:
        return ""
    if len(text) > MARKDOWN_MAX_CHARS:
        return f'<pre class="text">{html.escape(text)}</pre>'
    return sanitize(_MD.render(text))


def is_long(text: str) -> bool:
    return len(text) > FOLD_CHARS or text.count("\n") >= FOLD_LINES


_fold_ids = itertools.count(1)


def fold(inner_html: str, *, long: bool) -> str:
    """Wrap long content so it starts folded with a "Show all" toggle (CSS only: a checkbox and its label)."""
    if not long:
        return inner_html
    n = next(_fold_ids)
    return (
        f'<div class="fold"><input type="checkbox" class="fold-toggle" id="fold-{n}" hidden>'
        f'<div class="fold-body">{inner_html}</div>'
        f'<label class="fold-more" for="fold-{n}"><span class="show">Show all</span>'
        f'<span class="hide">Show less</span></label></div>'
    )


# --- JSON trees ---


def parse_json_text(value: Any) -> Any:
    """A string holding a JSON object or array (tool arguments usually are) parsed; anything else as it is."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in ("{", "[") and stripped[-1:] in ("}", "]"):
            try:
                return json.loads(stripped)
            except ValueError:
                return value
    return value


def json_text(value: Any) -> str:
    """Indented JSON of a value, as the copy button copies it."""
    return json.dumps(parse_json_text(value), indent=2, ensure_ascii=False, default=str)


def _leaf(value: Any) -> str:
    if value is None:
        return '<span class="jv jnull">null</span>'
    if isinstance(value, bool):
        return f'<span class="jv jbool">{"true" if value else "false"}</span>'
    if isinstance(value, int | float):
        return f'<span class="jv jnum">{html.escape(json.dumps(value))}</span>'
    if isinstance(value, str):
        return f'<span class="jv jstr">{html.escape(json.dumps(value, ensure_ascii=False))}</span>'
    return f'<span class="jv">{html.escape(str(value))}</span>'


def json_tree(value: Any) -> str:
    """A JSON value as nested <details> (collapse/expand without script); the first levels open."""
    value = parse_json_text(value)
    budget = [TREE_MAX_NODES]
    out: list[str] = []

    def node(key: str | None, val: Any, depth: int) -> None:
        budget[0] -= 1
        label = f'<span class="jk">{html.escape(key)}</span>: ' if key is not None else ""
        if isinstance(val, str) and len(val) <= NESTED_JSON_MAX_CHARS:
            parsed = parse_json_text(val)  # an attribute holding JSON text (input.value, tool arguments)
            if parsed is not val and parsed:
                label += '<span class="jtext" title="JSON text, shown as a tree">json</span> '
                val = parsed
        if isinstance(val, dict | list) and val:
            if budget[0] <= 0:
                out.append(f'<li>{label}<span class="jv jmore">{html.escape(json_text(val))}</span></li>')
                return
            is_dict = isinstance(val, dict)
            n = len(val)
            summary = f"{{{n} key{'s' * (n != 1)}}}" if is_dict else f"[{n} item{'s' * (n != 1)}]"
            opened = " open" if depth < TREE_OPEN_DEPTH else ""
            out.append(f'<li><details class="jnode"{opened}><summary>{label}<span class="jsum">{summary}</span>')
            out.append('</summary><ul class="jchildren">')
            items = val.items() if is_dict else enumerate(val)
            for k, v in items:
                node(str(k), v, depth + 1)
            out.append("</ul></details></li>")
        elif isinstance(val, dict | list):
            out.append(f'<li>{label}<span class="jv">{"{}" if isinstance(val, dict) else "[]"}</span></li>')
        else:
            out.append(f"<li>{label}{_leaf(val)}</li>")

    node(None, value, 0)
    return f'<ul class="jtree">{"".join(out)}</ul>'


# --- Messages ---


@dataclass
class Part:
    kind: str  # "text" (html is rendered markdown), "json" (html is a tree), "image" (src)
    html: str = ""
    src: str = ""
    copy: str = ""

    @property
    def link(self) -> str:
        """Where a thumbnail links to: the full image, for URLs (browsers refuse to open data: URIs as pages)."""
        return self.src if self.kind == "image" and not self.src.startswith("data:") else ""


@dataclass
class Message:
    role: str  # one of ROLES or "other", for the bubble's colour
    label: str
    name: str = ""
    tool_call_id: str = ""
    parts: list[Part] = field(default_factory=list)
    tool_calls: list[dict[str, str]] = field(default_factory=list)
    copy: str = ""  # the message's text, for its copy button


ROLES = ("system", "user", "assistant", "tool")


def _image_of(part: dict) -> str | None:
    """The image a content part carries, in the shapes OpenAI, Anthropic and OTel GenAI send."""
    kind = str(part.get("type") or "")
    url = part.get("image_url")
    if isinstance(url, dict):
        url = url.get("url")
    if url is None and kind in ("image", "image_url", "input_image", "uri"):
        url = part.get("url") or part.get("uri")
    source = part.get("source")
    if url is None and isinstance(source, dict):  # Anthropic: {"type": "base64", "media_type", "data"}
        if source.get("type") == "base64":
            url = f"data:{source.get('media_type', '')};base64,{source.get('data', '')}"
        else:
            url = source.get("url")
    if url is None and kind == "blob" and str(part.get("mime_type") or "").startswith("image/"):
        url = f"data:{part['mime_type']};base64,{part.get('content', '')}"
    return image_src(url) if url is not None else None


def text_part(text: str) -> Part:
    """Text as markdown, or as a JSON tree when the whole text is a JSON object or array."""
    parsed = parse_json_text(text)
    if parsed is not text:
        return Part(kind="json", html=fold(json_tree(parsed), long=is_long(text)), copy=text)
    return Part(kind="text", html=fold(markdown(text), long=is_long(text)), copy=text)


def content_parts(content: Any) -> list[Part]:
    """Message content (a string or a list of parts) as displayable parts."""
    if content is None or content == "":
        return []
    if isinstance(content, str):
        return [text_part(content)]
    if not isinstance(content, list):
        return [Part(kind="json", html=json_tree(content), copy=json_text(content))]
    parts: list[Part] = []
    for item in content:
        if isinstance(item, str):
            parts.append(text_part(item))
        elif isinstance(item, dict):
            src = _image_of(item)
            text = item.get("text", item.get("content"))
            if src:
                parts.append(Part(kind="image", src=src, copy=src))
            elif isinstance(text, str):
                parts.append(text_part(text))
            else:
                parts.append(Part(kind="json", html=json_tree(item), copy=json_text(item)))
        else:
            parts.append(Part(kind="json", html=json_tree(item), copy=json_text(item)))
    return parts


def _tool_call(call: Any) -> dict[str, str]:
    # Both shapes: normalised {"name", "arguments"} and OpenAI's {"function": {"name", "arguments"}}.
    if not isinstance(call, dict):
        return {"name": "", "id": "", "tree": json_tree(call), "copy": json_text(call)}
    fn = call.get("function") if isinstance(call.get("function"), dict) else call
    args = fn.get("arguments")
    has_args = args not in (None, "")
    return {
        "name": str(fn.get("name") or ""),
        "id": str(call.get("id") or ""),
        "tree": json_tree(args) if has_args else "",
        "copy": json_text(args) if has_args else "",
    }


def message(msg: Any) -> Message:
    if not isinstance(msg, dict):
        parts = content_parts(msg if isinstance(msg, str | list) else [msg])
        return Message(role="other", label="message", parts=parts, copy="\n\n".join(p.copy for p in parts))
    role = str(msg.get("role") or "")
    calls = msg.get("tool_calls") or []
    parts = content_parts(msg.get("content"))
    return Message(
        role=role if role in ROLES else "other",
        label=role or "message",
        name=str(msg.get("name") or ""),
        tool_call_id=str(msg.get("tool_call_id") or ""),
        parts=parts,
        tool_calls=[_tool_call(c) for c in calls] if isinstance(calls, list) else [],
        copy="\n\n".join(p.copy for p in parts if p.kind != "image"),
    )


def conversation(
    *, input_messages: Any, output_messages: Any, input_text: str, output_text: str
) -> list[tuple[str, list[Message]]]:
    """The Messages tab: ("Input", messages), ("Output", messages), each side falling back to its plain text.

    A span may carry messages on one side and only text on the other (an LLM call given a plain string prompt
    whose reply was recorded as a message): each side is shown from whichever it has, never one hiding the other.
    """
    sides = []
    for title, messages, text, role in (
        ("Input", input_messages, input_text, "user"),
        ("Output", output_messages, output_text, "assistant"),
    ):
        if isinstance(messages, list) and messages:
            sides.append((title, [message(m) for m in messages]))
        elif text:
            parts = content_parts(text)
            label = title.lower()
            sides.append((title, [Message(role=role, label=label, parts=parts, copy=text)]))
    return sides
