"""Each piece of span content stored once (issue 14 §1).

The conventions repeat a span's content: OpenInference sends the conversation as flattened
``llm.input_messages.*`` keys and again inside the request JSON of ``input.value``; the GenAI conventions in
``gen_ai.input.messages``; a TOOL span's arguments are its ``input.value``... Normalisation already keeps that
content in the span's first-class fields (``input_messages``, ``output_messages``, ``documents``, ``input_text``,
``tool_result``, ``model``, tokens...), so ``Span.attributes`` keeps only what normalisation did not consume, and
``Span.lean`` records how to give the rest back. At ingest (``split``, called by traces.services._span_values
after redaction) two things are taken from the attributes:

1. Keys a convention spells from a normalised field, listed in ``RULES`` (append-only: a record names rules by
   their position): ``llm.input_messages.3.message.content`` is the content of input message 3,
   ``retrieval.documents.0.document.score`` the score of document 0, ``llm.token_count.prompt`` the input tokens,
   ``gen_ai.tool.call.result`` the tool result... The record lists which rules, for which message/document/call
   indexes, were taken: a few bytes a key.
2. Long strings that contain normalised texts, literally or JSON-escaped (a request body in ``input.value``,
   ``gen_ai.input.messages``, a message event's attributes): kept as a template, literal pieces and references
   to the texts (the skeleton only).

Safety: a key is taken only when what restoring it gives is exactly the value sent (same type, same value),
checked per span and per key at ingest; otherwise it stays in ``attributes`` whole. ``raw_attributes(span)`` /
``raw_events(span)`` give back the attributes and events as sent (after redaction); a span without a record (old
rows not converted yet, or nothing taken) reads as stored. Key order is not kept (PostgreSQL's jsonb never did).

Record (``Span.lean``; null when nothing was taken)::

    {"r": rules, "a": {key: template}, "e": {event_index: {key: template}}, "s": bundle, "h": {key: holes}}
    bundle   : what recurs across the project's spans, stored once (traces.shared_values): kept attributes,
               templates (whole, or as a skeleton whose holes, ids and counts, stay here in "h"), the rules
    rules    : "0,1:0.1.3,3:4-0,34": rule 0 for every message, rule 1 for messages 0, 1 and 3, rule 3 for tool
               call 0 of message 4, rule 34 (see _take_rules)
    template : "ref" (the whole value) | [piece, ...]; piece = "literal" | [ref, encoding]
    ref      : "it" "ot" "ta" "tr" "er" (input_text, output_text, tool_arguments, tool_result, error),
               "im.N" / "om.N" (content of input/output message N), "im.N.a.M" (arguments of its tool call M),
               "d.N" (content of document N)
    encoding : 0 as is, 1 JSON-escaped (non-ASCII kept), 2 JSON-escaped with \\uXXXX for non-ASCII
"""

from __future__ import annotations

import json
import re
from typing import Any

from traces import shared_values

MIN_SOURCE = 16  # shorter texts are not worth a reference in a template
MIN_VALUE = 32  # shorter strings are not looked into for templates
# Read from Span.attributes by the apps (feedback and escalation signals, the HTTP-root checks of the detectors):
# never taken, so those readers see them whatever the record.
ALWAYS_KEPT = ("peekr.", "http.", "url.")

__all__ = ["RULES", "raw_attributes", "raw_events", "split"]


def _get(obj: Any, name: str, default: Any) -> Any:
    value = obj.get(name, default) if isinstance(obj, dict) else getattr(obj, name, default)
    return default if value is None else value


# --- 1. keys spelled from one normalised field ------------------------------------------------------------------
# (key pattern, what it holds). Patterns with {i} range over messages or documents, {j} over a message's tool
# calls. Append only: a stored record names a rule by its position.

_IN, _OUT = "input_messages", "output_messages"


def _msg(field: str, name: str) -> tuple:
    return ("item", field, name)


def _call(field: str, name: str) -> tuple:
    return ("call", field, name)


def _doc(name: str) -> tuple:
    return ("item", "documents", name)


def _col(name: str) -> tuple:
    return ("col", name)


def _message_rules(prefix: str, field: str, *, role: str, content: str, call: str, call_keys: tuple, result: str):
    return [
        (f"{prefix}.{{i}}.{role}", _msg(field, "role")),
        (f"{prefix}.{{i}}.{content}", _msg(field, "content")),
        (f"{prefix}.{{i}}.{result}", _msg(field, "tool_call_id")),
        *[
            (f"{prefix}.{{i}}.{call}.{{j}}.{key}", _call(field, name))
            for key, name in zip(call_keys, ("id", "name", "arguments"), strict=True)
        ],
    ]


_OI = {
    "role": "message.role",
    "content": "message.content",
    "call": "message.tool_calls",
    "call_keys": ("tool_call.id", "tool_call.function.name", "tool_call.function.arguments"),
    "result": "message.tool_call_id",
}
_TRACELOOP = {
    "role": "role",
    "content": "content",
    "call": "tool_calls",
    "call_keys": ("id", "name", "arguments"),
    "result": "tool_call_id",
}

RULES: list[tuple[str, tuple]] = [
    *_message_rules("llm.input_messages", _IN, **_OI),  # 0-5
    *_message_rules("llm.output_messages", _OUT, **_OI),  # 6-11
    *_message_rules("gen_ai.prompt", _IN, **_TRACELOOP),  # 12-17
    *_message_rules("gen_ai.completion", _OUT, **_TRACELOOP),  # 18-23
    ("retrieval.documents.{i}.document.id", _doc("id")),  # 24
    ("retrieval.documents.{i}.document.content", _doc("content")),
    ("retrieval.documents.{i}.document.score", _doc("score")),
    ("reranker.output_documents.{i}.document.id", _doc("id")),
    ("reranker.output_documents.{i}.document.content", _doc("content")),
    ("reranker.output_documents.{i}.document.score", _doc("score")),  # 29
    ("input.value", _col("input_text")),  # 30
    ("output.value", _col("output_text")),
    ("input.value", _col("tool_arguments")),
    ("output.value", _col("tool_result")),
    ("llm.model_name", _col("model")),
    ("embedding.model_name", _col("model")),  # 35
    ("llm.provider", _col("provider")),
    ("llm.system", _col("provider")),
    ("llm.token_count.prompt", _col("input_tokens")),
    ("llm.token_count.completion", _col("output_tokens")),
    ("llm.token_count.total", _col("total_tokens")),  # 40
    ("session.id", _col("session_id")),
    ("user.id", _col("user_id")),
    ("tool.name", _col("tool_name")),
    ("llm.prompt_template.version", _col("prompt_version")),
    ("gen_ai.request.model", _col("model")),  # 45
    ("gen_ai.response.model", _col("model_version")),
    ("gen_ai.response.model", _col("model")),
    ("gen_ai.provider.name", _col("provider")),
    ("gen_ai.system", _col("provider")),
    ("gen_ai.usage.input_tokens", _col("input_tokens")),  # 50
    ("gen_ai.usage.output_tokens", _col("output_tokens")),
    ("gen_ai.usage.prompt_tokens", _col("input_tokens")),
    ("gen_ai.usage.completion_tokens", _col("output_tokens")),
    ("gen_ai.conversation.id", _col("session_id")),
    ("gen_ai.tool.name", _col("tool_name")),  # 55
    ("gen_ai.tool.call.arguments", _col("tool_arguments")),
    ("gen_ai.tool.call.result", _col("tool_result")),
    ("traceloop.entity.input", _col("input_text")),
    ("traceloop.entity.output", _col("output_text")),
]


_BY_KEY: dict[str, list[int]] = {}  # plain key -> its rules, in order
_BY_PREFIX: dict[str, list[tuple[int, re.Pattern]]] = {}  # "llm.input_messages." -> (rule, the rest as a regex)
for _rule, (_pattern, _) in enumerate(RULES):
    if "{" not in _pattern:
        _BY_KEY.setdefault(_pattern, []).append(_rule)
    else:
        _head, _, _rest = _pattern.partition("{i}")
        _tail = re.escape("{i}" + _rest).replace(re.escape("{i}"), r"(\d+)").replace(re.escape("{j}"), r"(\d+)")
        _BY_PREFIX.setdefault(_head, []).append((_rule, re.compile(_tail)))
_INDEXED = re.compile(r"(.*?\.)\d+\.")  # the part of a key before its first index: "llm.input_messages."


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same type (1, 1.0 and True are three different attribute values)."""
    return type(a) is type(b) and a == b and isinstance(a, (str, int, float))


def _rule_instances(row: Any, rule: int) -> list:
    """Every key this rule spells from the row: [(key, value, instance)] (value None: nothing to spell)."""
    pattern, source = RULES[rule]
    if source[0] == "col":
        return [(pattern, _get(row, source[1], None), 1)]
    items = _get(row, source[1], [])
    if not isinstance(items, list):
        return []
    name = source[2]
    out = []
    if source[0] == "item":
        for i, item in enumerate(items):
            out.append((pattern.format(i=i), item.get(name) if isinstance(item, dict) else None, i))
        return out
    for i, item in enumerate(items):
        calls = item.get("tool_calls") if isinstance(item, dict) else None
        for j, call in enumerate(calls if isinstance(calls, list) else ()):
            out.append((pattern.format(i=i, j=j), call.get(name) if isinstance(call, dict) else None, [i, j]))
    return out


def _spell(row: Any, rule: int, instance: Any) -> tuple[str, Any]:
    pattern, source = RULES[rule]
    if source[0] == "col":
        return pattern, _get(row, source[1], None)
    items = _get(row, source[1], [])
    i = instance[0] if isinstance(instance, list) else instance
    item = items[i] if isinstance(items, list) and i < len(items) and isinstance(items[i], dict) else {}
    if source[0] == "item":
        return pattern.format(i=i), item.get(source[2])
    calls = item.get("tool_calls")
    j = instance[1]
    call = calls[j] if isinstance(calls, list) and j < len(calls) and isinstance(calls[j], dict) else {}
    return pattern.format(i=i, j=j), call.get(source[2])


def _spelled(row: Any, rule: int) -> int:
    """How many keys the rule spells from the row (instances whose value is not None)."""
    source = RULES[rule][1]
    if source[0] == "col":
        return int(_get(row, source[1], None) is not None)
    items = _get(row, source[1], [])
    if not isinstance(items, list):
        return 0
    name = source[2]
    if source[0] == "item":
        return sum(1 for item in items if isinstance(item, dict) and item.get(name) is not None)
    return sum(
        1
        for item in items
        if isinstance(item, dict) and isinstance(item.get("tool_calls"), list)
        for call in item["tool_calls"]
        if isinstance(call, dict) and call.get(name) is not None
    )


def _take_rules(attributes: dict, row: Any) -> tuple[dict, str]:
    """(attributes left, the rules taken) for the keys the rules spell exactly.

    The rules taken are one string, comma-separated: "N" a plain rule (or every key an indexed rule spells from
    the row), "N:3.5" an indexed rule for messages/documents 3 and 5, "N:4-0" for tool call 0 of message 4.
    """
    found: dict[int, list] = {}
    taken_keys: set[str] = set()
    for key, value in attributes.items():
        rules = _BY_KEY.get(key)
        if rules is not None:  # a plain key: the first rule that spells it exactly
            for rule in rules:
                if _same(value, _get(row, RULES[rule][1][1], None)):
                    found.setdefault(rule, []).append(1)
                    taken_keys.add(key)
                    break
            continue
        m = _INDEXED.match(key)
        if m is None or m.group(1) not in _BY_PREFIX:
            continue
        for rule, tail in _BY_PREFIX[m.group(1)]:
            t = tail.fullmatch(key, m.end(1))
            if t is None:
                continue
            instance = [int(t.group(1)), int(t.group(2))] if t.lastindex == 2 else int(t.group(1))
            if _same(value, _spell(row, rule, instance)[1]):
                found.setdefault(rule, []).append(instance)
                taken_keys.add(key)
            break
    if not found:
        return attributes, ""
    record = []
    for rule in sorted(found):
        instances = sorted(found[rule])
        if "{" not in RULES[rule][0] or len(instances) == _spelled(row, rule):
            record.append(str(rule))
        else:
            record.append(f"{rule}:" + ".".join(f"{i[0]}-{i[1]}" if isinstance(i, list) else str(i) for i in instances))
    return {k: v for k, v in attributes.items() if k not in taken_keys}, ",".join(record)


def _restore_rules(record: str, row: Any) -> dict:
    out = {}
    for item in record.split(",") if record else ():
        rule, _, listed = item.partition(":")
        if listed:
            instances = [[int(x) for x in i.split("-")] if "-" in i else int(i) for i in listed.split(".")]
            spelled = [_spell(row, int(rule), instance) for instance in instances]
        else:
            spelled = [(key, value) for key, value, _ in _rule_instances(row, int(rule))]
        for key, value in spelled:
            if value is not None:
                out[key] = value
    return out


# --- 2. long strings holding normalised texts -------------------------------------------------------------------
# A reference names a text of the row: its normalised text fields, a message's content or tool call arguments, a
# document's content, the model; "IM.v" / "OM.v" the whole input/output message list and "IM.v.N" one message,
# as JSON in OpenAI's chat shape (v: the JSON style, see _openai_json); "k:KEY" a string attribute that is kept.

_FIELDS = {"it": "input_text", "ot": "output_text", "ta": "tool_arguments", "tr": "tool_result", "er": "error"}
_FIELDS.update({"md": "model", "mv": "model_version"})


def _openai(msg: dict, null_content: bool) -> dict:
    out: dict[str, Any] = {"role": msg.get("role"), "content": msg.get("content")}
    calls = msg.get("tool_calls")
    if calls:
        if null_content and not out["content"]:
            out["content"] = None
        out["tool_calls"] = [
            {
                "id": c.get("id"),
                "type": "function",
                "function": {"name": c.get("name"), "arguments": c.get("arguments")},
            }
            for c in calls
            if isinstance(c, dict)
        ]
    if msg.get("tool_call_id"):
        out["tool_call_id"] = msg["tool_call_id"]
    return out


def _arguments(text: Any) -> Any:
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return text
    return value if isinstance(value, dict) else text


def _semconv(msg: dict, reverse: bool = False) -> dict:
    """A normalised message in the GenAI conventions' shape (role + parts), as gen_ai.input.messages holds it."""
    if msg.get("tool_call_id") and not msg.get("tool_calls"):
        response = {"type": "tool_call_response", "id": msg["tool_call_id"], "response": msg.get("content")}
        parts = [response]
    else:
        parts = [{"type": "text", "content": msg["content"]}] if msg.get("content") else []
        for c in msg.get("tool_calls") or ():
            if isinstance(c, dict):
                call = {"type": "tool_call", "id": c.get("id"), "name": c.get("name")}
                parts.append({**call, "arguments": _arguments(c.get("arguments"))})
    if reverse:  # opentelemetry-util-genai writes each part's fields last to first
        parts = [dict(reversed(part.items())) for part in parts]
    return {"role": msg.get("role"), "parts": parts}


_TYPE_LAST = re.compile(r'"type": ?"[a-z_]+"\}')


def _style_of(value: str) -> int | None:
    """The JSON style of a string holding chat messages, or None: bit 0 compact separators, bit 1 ASCII only,
    bit 2 an empty content as null (OpenAI shape), bit 3 the GenAI conventions' parts, bit 4 their fields last to
    first."""
    if '"role"' not in value:
        return None
    style = 8 if '"parts"' in value else 0
    if style and _TYPE_LAST.search(value):
        style |= 16
    if '"role":"' in value:
        style |= 1
    if value.isascii():
        style |= 2
    if '"content": null' in value or '"content":null' in value:
        style |= 4
    return style


def _message_json(msg: Any, style: int) -> str | None:
    if not isinstance(msg, dict):
        return None
    shaped = _semconv(msg, bool(style & 16)) if style & 8 else _openai(msg, bool(style & 4))
    return json.dumps(shaped, separators=(",", ":") if style & 1 else (", ", ": "), ensure_ascii=bool(style & 2))


def _messages_json(row: Any, ref: str) -> str | None:
    """ "IM.s": the input messages as one JSON list in style s; "IM.s.N": message N, without its closing brace
    (a message may carry more keys after the ones normalisation keeps, such as a finish reason)."""
    head, style, *index = ref.split(".")
    messages = _get(row, _IN if head == "IM" else _OUT, [])
    if not isinstance(messages, list) or not messages:
        return None
    if index:
        i = int(index[0])
        text = _message_json(messages[i], int(style)) if i < len(messages) else None
        return text[:-1] if text else None
    rendered = [_message_json(m, int(style)) for m in messages]
    if None in rendered:
        return None
    return "[" + ("," if int(style) & 1 else ", ").join(rendered) + "]"


def _resolve(row: Any, ref: str, cache: dict | None = None) -> str | None:
    """The text a reference names, or None when the row no longer has it (content expired)."""
    if cache is not None:
        if ref not in cache:
            cache[ref] = _resolve(row, ref)
        return cache[ref]
    if ref in _FIELDS:
        value = _get(row, _FIELDS[ref], "")
    elif ref.startswith(("IM.", "OM.")):
        value = _messages_json(row, ref)
    elif ref.startswith("k:"):
        value = _get(row, "attributes", {}).get(ref[2:])
    else:
        kind, _, rest = ref.partition(".")
        index, _, call = rest.partition(".a.")
        items = _get(row, {"im": _IN, "om": _OUT, "d": "documents"}.get(kind, ""), [])
        item = items[int(index)] if isinstance(items, list) and int(index) < len(items) else None
        value = item.get("content") if isinstance(item, dict) else None
        if call and isinstance(item, dict):
            calls = item.get("tool_calls") or []
            j = int(call)
            value = calls[j].get("arguments") if j < len(calls) and isinstance(calls[j], dict) else None
    return value if isinstance(value, str) and value else None


_ESCAPED = re.compile(r'[\x00-\x1f"\\\x7f-\U0010ffff]')


def _needles(ref: str, text: str) -> tuple:
    """(ref, [(needle, encoding)]) for one text: as is, and JSON-escaped when escaping changes it."""
    found = [(text, 0)]
    if _ESCAPED.search(text):
        one = json.dumps(text, ensure_ascii=False)[1:-1]
        if one != text:
            found.append((one, 1))
        two = json.dumps(text, ensure_ascii=True)[1:-1]
        if two != one:
            found.append((two, 2))
    return ref, found


def _texts(row: Any) -> list[tuple]:
    """The row's texts worth a reference, long ones first, each text once, with their needles."""
    found: dict[str, Any] = {ref: _get(row, name, "") for ref, name in _FIELDS.items()}
    for prefix, name in (("im", _IN), ("om", _OUT)):
        for i, msg in enumerate(_get(row, name, [])):
            if not isinstance(msg, dict):
                continue
            found[f"{prefix}.{i}"] = msg.get("content")
            for j, call in enumerate(msg.get("tool_calls") or ()):
                if isinstance(call, dict):
                    found[f"{prefix}.{i}.a.{j}"] = call.get("arguments")
    for i, doc in enumerate(_get(row, "documents", [])):
        if isinstance(doc, dict):
            found[f"d.{i}"] = doc.get("content")
    return _ordered(found)


def _ordered(found: dict[str, Any]) -> list[tuple]:
    seen: set[str] = set()
    out = []
    for ref, text in sorted(found.items(), key=lambda rt: -len(rt[1]) if isinstance(rt[1], str) else 0):
        if isinstance(text, str) and len(text) >= MIN_SOURCE and text not in seen:
            seen.add(text)
            out.append(_needles(ref, text))
    return out


def _message_candidates(row: Any, style: int, cache: dict) -> list[tuple]:
    """The row's messages rendered in this style (whole lists, then each message), longest first. They are JSON
    already: looked for as they are, never JSON-escaped."""
    key = ("style", style)
    if key not in cache:
        found: dict[str, str] = {}
        for head, name in (("IM", _IN), ("OM", _OUT)):
            messages = _get(row, name, [])
            rendered = [_message_json(m, style) for m in messages] if isinstance(messages, list) else []
            if rendered and None not in rendered:
                whole = "[" + ("," if style & 1 else ", ").join(rendered) + "]"
                found[f"{head}.{style}"] = cache[f"{head}.{style}"] = whole
                for i, text in enumerate(rendered):
                    found[f"{head}.{style}.{i}"] = cache[f"{head}.{style}.{i}"] = text[:-1]
        seen: set[str] = set()
        ordered = []
        for ref, text in sorted(found.items(), key=lambda rt: -len(rt[1])):
            if len(text) >= MIN_SOURCE and text not in seen:
                seen.add(text)
                ordered.append((ref, [(text, 0)]))
        cache[key] = ordered
    return cache[key]


def _encode(text: str, encoding: int) -> str:
    return text if encoding == 0 else json.dumps(text, ensure_ascii=encoding == 2)[1:-1]


def _render(template: Any, row: Any, cache: dict | None = None) -> str | None:
    if isinstance(template, str):
        return _resolve(row, template, cache)
    out = []
    for piece in template:
        if isinstance(piece, str):
            out.append(piece)
            continue
        text = _resolve(row, piece[0], cache)
        if text is None:  # the field is gone (content expired): the value cannot be rebuilt
            return None
        out.append(_encode(text, piece[1]))
    return "".join(out)


def _template(value: str, candidates: list[tuple]) -> Any:
    """``value`` as literal pieces and references, or None when no text occurs in it."""
    pieces: list = [value]
    hit = False
    for ref, needles in candidates:
        for needle, encoding in needles:
            if len(needle) > len(value) or needle not in value:
                continue
            if not any(isinstance(p, str) and needle in p for p in pieces):
                continue
            new: list = []
            for piece in pieces:
                if isinstance(piece, str) and needle in piece:
                    for k, chunk in enumerate(piece.split(needle)):
                        if k:
                            new.append([ref, encoding])
                        if chunk:
                            new.append(chunk)
                else:
                    new.append(piece)
            pieces = new
            hit = True
    if not hit:
        return None
    if len(pieces) == 1 and isinstance(pieces[0], list) and pieces[0][1] == 0:
        return pieces[0][0]  # the whole value is one text: its reference alone
    return pieces


def _take_texts(attributes: dict, row: Any, *, attribute_refs: bool) -> tuple[dict, dict]:
    """(attributes left, {key: template}) for the long strings that hold the row's texts.

    With ``attribute_refs``, a template may also name another attribute, one that is kept whole (a tool schema
    inside a request body): the attributes taken without such references are decided first, and only they may
    then use them.
    """
    long = {
        k: v
        for k, v in attributes.items()
        if isinstance(v, str) and len(v) >= MIN_VALUE and not k.startswith(ALWAYS_KEPT)
    }
    if not long:
        return attributes, {}
    texts = _texts(row)
    cache: dict = {}  # rendered references: the row does not change meanwhile
    taken = _templates(long, texts, row, cache)
    if attribute_refs and taken:
        kept_long = _ordered({f"k:{k}": v for k, v in long.items() if k not in taken})
        if kept_long:
            view = {**row, "attributes": {k: v for k, v in attributes.items() if k not in taken}}
            taken.update(_templates({k: long[k] for k in taken}, kept_long + texts, view, cache))
    if not taken:
        return attributes, {}
    return {k: v for k, v in attributes.items() if k not in taken}, taken


def _stored_size(template: Any) -> int:
    """About what a template takes in jsonb (strings unescaped, a few bytes of header a piece)."""
    if isinstance(template, str):
        return len(template) + 4
    return sum(len(p.encode()) + 4 if isinstance(p, str) else len(p[0]) + 12 for p in template)


def _templates(values: dict, texts: list, row: Any, cache: dict) -> dict:
    taken = {}
    styles: dict[int, list] = {}
    for key, value in values.items():
        candidates = texts
        style = _style_of(value)
        if style is not None:
            if style not in styles:
                styles[style] = _message_candidates(row, style, cache)
            candidates = styles[style] + texts
        template = _template(value, candidates)
        if template is None or _stored_size(template) + MIN_SOURCE > len(value.encode()):
            continue
        if _render(template, row, cache) == value:  # the safety rule: only what comes back exactly
            taken[key] = template
    return taken


# --- the two directions -----------------------------------------------------------------------------------------


def split(row: dict) -> tuple[dict, list, dict | None]:
    """(attributes to store, events to store, lean record or None) for a span row about to be written.

    ``row`` holds the row's values (``traces.services._span_values``: the normalised fields, the raw
    ``attributes`` and ``events``). The record is kept only if restoring from it gives back exactly the
    attributes and events sent: each key is taken only after its restoring was checked (rules: same type and value;
    templates: rendered from the row, the same text).
    """
    attributes = row.get("attributes") or {}
    events = row.get("events") or []
    record: dict[str, Any] = {}
    kept, rules = _take_rules(attributes, row)
    if rules:
        record["r"] = rules
    kept, texts = _take_texts(kept, row, attribute_refs=True)
    if texts:
        record["a"] = texts
    kept_events = events
    taken_events: dict[str, dict] = {}
    for i, event in enumerate(events):
        ev_attrs = event.get("attributes") if isinstance(event, dict) else None
        if not ev_attrs:
            continue
        ev_kept, ev_taken = _take_texts(ev_attrs, row, attribute_refs=False)
        if ev_taken:
            if kept_events is events:
                kept_events = list(events)
            kept_events[i] = {**event, "attributes": ev_kept}
            taken_events[str(i)] = ev_taken
    if taken_events:
        record["e"] = taken_events
    if row.get("project_id"):  # what recurs across spans is stored once (not in migration 0014: no project there)
        kept, record = shared_values.take(row["project_id"], kept, record, never=ALWAYS_KEPT)
    if not record:
        return attributes, events, None
    return kept, kept_events, record


def raw_attributes(span: Any) -> dict:
    """The span's attributes exactly as sent (after redaction): what was kept plus what the normalised fields
    give back. Works on a Span instance or a dict of its values."""
    record = _get(span, "lean", None)
    if not record:
        return dict(_get(span, "attributes", {}))
    if record.get("s"):
        span, record = shared_values.expanded(span, record)
    kept = _get(span, "attributes", {})
    restored = _restore_rules(record.get("r") or "", span)
    cache: dict = {}
    for key, template in (record.get("a") or {}).items():
        value = _render(template, span, cache)
        if value is not None:
            restored[key] = value
    restored.update(kept)
    return restored


def raw_events(span: Any) -> list:
    """The span's events exactly as sent (after redaction)."""
    events = _get(span, "events", [])
    record = _get(span, "lean", None)
    if not record or not record.get("e"):
        return list(events)
    out = list(events)  # event templates name the row's fields only, never a shared value
    cache: dict = {}
    for index, templates in record["e"].items():
        i = int(index)
        if i < len(out) and isinstance(out[i], dict):
            attrs = dict(out[i].get("attributes") or {})
            for key, template in templates.items():
                value = _render(template, span, cache)
                if value is not None:
                    attrs[key] = value
            out[i] = {**out[i], "attributes": attrs}
    return out
