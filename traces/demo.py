"""Demo traffic: a day of realistic GenAI traces from three small apps, emitted through the OpenTelemetry SDK.

The apps serve "Nimbus Notes", a fictional note-taking product: `support-bot` answers questions from its docs
(RAG, multi-turn sessions), `research-agent` runs tool-calling agents, `answer-api` is an HTTP service with an
LLM judge on its request path. Every builder takes a tracer, a start time (Unix ns) and a seeded
random.Random, creates its spans with explicit start and end times (nothing sleeps, so a day of traffic is sent
in seconds) and returns how many traces it emitted. Which spans end up in which HTTP request is the exporter's
business.

Attribute names are those real instrumentations write, mixed the way real apps mix them: OTel GenAI
(opentelemetry-instrumentation-openai-v2 / genai-openai: `chat gpt-4o-mini`, `gen_ai.input.messages` as
role+parts JSON) for model and tool calls, OpenInference for chains, agents, retrievers and one tool, and
Traceloop's `openai.chat` for the triage endpoint. Each builder is also a pattern the detectors look for:
sequential independent calls, a judge on the request path, loops, retry storms, a tool returning null,
duplicate prompts, a cost hotspot.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, set_span_in_context

MS = 1_000_000
SECOND = 1000 * MS
DAY = 24 * 3600 * SECOND

SUPPORT_BOT = "support-bot"
RESEARCH_AGENT = "research-agent"
ANSWER_API = "answer-api"
# service.version of each app: the resource attribute Peekr shows as the release.
SERVICES = {SUPPORT_BOT: "2.3.1", RESEARCH_AGENT: "0.9.0", ANSWER_API: "1.14.2"}

# What the OpenAI API answers in `model`: the dated snapshot behind the alias the app asked for.
RESPONSE_MODEL = {
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4o": "gpt-4o-2024-08-06",
    "text-embedding-3-small": "text-embedding-3-small",
}

# ---------------------------------------------------------------------------------------------------------------
# Content: the product's docs, the questions users ask, the weather the agent looks up.

DOCS = {
    "kb-101": (
        "Sync",
        "Nimbus Notes syncs every 30 seconds while the app is open, and immediately after you stop typing for "
        "2 seconds. Sync runs over HTTPS and resumes where it stopped if the connection drops.",
    ),
    "kb-102": (
        "Offline mode",
        "Every note opened in the last 90 days is cached on the device. Edits made offline are queued and "
        "uploaded on the next sync; when two devices edited the same note, both versions are kept and the "
        "second is saved as a 'conflict copy' next to the original.",
    ),
    "kb-103": (
        "Export",
        "Export a notebook as Markdown, PDF or HTML from Settings > Export. Attachments are bundled in a zip "
        "file up to 2 GB; larger exports are emailed as a download link that stays valid for 7 days.",
    ),
    "kb-104": (
        "Sharing",
        "Share a note with a read-only link, or invite people by email to edit it. On the Team plan, links can "
        "be protected with a password and an expiry date.",
    ),
    "kb-105": (
        "Plans",
        "Free includes 3 devices and 1 GB of storage. Pro costs $8 per month with unlimited devices and 50 GB. "
        "Team costs $14 per user per month and adds SSO, admin roles and audit logs.",
    ),
    "kb-106": (
        "Single sign-on",
        "Team workspaces can enable SAML single sign-on with Okta, Azure AD or Google Workspace. Once SSO is "
        "enforced, password logins are disabled for every member except the workspace owner.",
    ),
    "kb-107": (
        "Deleting notes",
        "Deleted notes stay in the Trash for 30 days, then they are removed permanently. Team admins can "
        "restore notes deleted by any member during those 30 days.",
    ),
    "kb-108": (
        "Attachments",
        "An attachment can be up to 250 MB on Pro and Team and 25 MB on Free. Images are previewed inline; "
        "PDFs are indexed for search within 10 minutes of upload.",
    ),
    "kb-109": (
        "Search",
        "Search covers titles, note bodies, tags, and the text inside PDFs and images (OCR). Put a phrase in "
        "quotes to match it exactly, and use tag:name to filter by tag.",
    ),
    "kb-110": (
        "Two-factor authentication",
        "Turn on two-factor authentication in Settings > Security with an authenticator app. Recovery codes "
        "are shown once: store them safely, because support cannot bypass 2FA.",
    ),
    "kb-111": (
        "REST API",
        "The REST API is available on Pro and Team. Create a token in Settings > Developer; each token may make "
        "600 requests per minute.",
    ),
    "kb-112": (
        "Data residency",
        "Workspaces created after March 2024 choose EU or US data residency. Support can migrate an older "
        "workspace; the migration takes up to 48 hours and notes stay readable meanwhile.",
    ),
}


@dataclass(frozen=True)
class Turn:
    question: str
    answer: str
    docs: tuple[str, ...]  # the docs that answer it; retrieval adds weaker matches


SESSIONS: list[tuple[str, list[Turn]]] = [
    (
        "user-1042",
        [
            Turn(
                "How often does Nimbus sync my notes?",
                "Nimbus Notes syncs every 30 seconds while the app is open, and right after you stop typing "
                "for about 2 seconds.",
                ("kb-101",),
            ),
            Turn(
                "What happens if I edit the same note on two devices while offline?",
                "Both edits are kept. When the devices sync, the second version is saved as a 'conflict copy' "
                "next to the original note, so you can merge them by hand.",
                ("kb-102", "kb-101"),
            ),
            Turn(
                "Can I get notified when that happens?",
                "The documentation doesn't mention conflict notifications. Conflict copies sit next to the "
                'original note, so searching for "conflict copy" finds them all.',
                ("kb-102", "kb-109"),
            ),
        ],
    ),
    (
        "user-2211",
        [
            Turn(
                "How much does the Team plan cost?",
                "Team costs $14 per user per month. On top of Pro it adds SSO, admin roles and audit logs.",
                ("kb-105",),
            ),
            Turn(
                "Does it work with Okta?",
                "Yes. Team workspaces can enable SAML single sign-on with Okta, Azure AD or Google Workspace.",
                ("kb-106",),
            ),
            Turn(
                "If we enforce SSO, can I still log in with my password?",
                "Only if you are the workspace owner: once SSO is enforced, password logins are disabled for "
                "every other member.",
                ("kb-106",),
            ),
            Turn(
                "And can we protect shared links?",
                "Yes, on the Team plan a shared link can have a password and an expiry date.",
                ("kb-104",),
            ),
        ],
    ),
    (
        "user-0387",
        [
            Turn(
                "I deleted a note by mistake yesterday, can I get it back?",
                "Yes. Deleted notes stay in the Trash for 30 days: open Trash, select the note and choose Restore.",
                ("kb-107",),
            ),
            Turn(
                "What about one I deleted two months ago?",
                "Unfortunately not. After 30 days in the Trash notes are removed permanently and can't be restored.",
                ("kb-107",),
            ),
        ],
    ),
    (
        "user-3170",
        [
            Turn(
                "How do I export a notebook to PDF?",
                "Open Settings > Export, pick the notebook and choose PDF. Attachments are bundled in a zip "
                "file of up to 2 GB.",
                ("kb-103",),
            ),
            Turn(
                "My notebook has 5 GB of attachments.",
                "Exports over 2 GB are emailed to you as a download link, valid for 7 days.",
                ("kb-103", "kb-108"),
            ),
            Turn(
                "Is that link password protected?",
                "The documentation doesn't say the export link has a password. It expires after 7 days, so "
                "download it soon and don't forward the email.",
                ("kb-103", "kb-104"),
            ),
        ],
    ),
]

SINGLE_QUESTIONS = [
    Turn(
        "What's the API rate limit?",
        "Each API token can make 600 requests per minute. The API is available on Pro and Team.",
        ("kb-111",),
    ),
    Turn(
        "Can I search inside PDFs?",
        "Yes. PDFs are indexed for search within 10 minutes of upload, and text in images is found with OCR.",
        ("kb-109", "kb-108"),
    ),
    Turn(
        "What's the largest attachment I can upload on the free plan?",
        "25 MB per attachment on Free. Pro and Team allow up to 250 MB.",
        ("kb-108",),
    ),
    Turn(
        "How do I turn on 2FA?",
        "Go to Settings > Security and set it up with an authenticator app. Keep the recovery codes somewhere "
        "safe: support cannot bypass 2FA.",
        ("kb-110",),
    ),
    Turn(
        "Can we keep our data in the EU?",
        "Yes. Workspaces created after March 2024 can choose EU residency, and support can migrate an older "
        "workspace within 48 hours.",
        ("kb-112",),
    ),
    Turn(
        "How many devices can I use for free?",
        "Three devices, with 1 GB of storage, on the Free plan.",
        ("kb-105",),
    ),
    Turn(
        "I lost my recovery codes, can support turn off 2FA for me?",
        "No, support cannot bypass two-factor authentication. If you are still signed in on a device, "
        "generate new recovery codes in Settings > Security.",
        ("kb-110",),
    ),
    Turn(
        "Does search find text in photos of whiteboards?",
        "Yes, images are searched with OCR, so text on a whiteboard photo is found like any other note text.",
        ("kb-109",),
    ),
]
USERS = ["user-0451", "user-0977", "user-1300", "user-1865", "user-2470", "user-2902", "user-3555", "user-4012"]

# city -> (now: temperature °C, conditions), weekend forecast
WEATHER = {
    "Paris": ((14, "light rain"), [("Saturday", "showers", 13), ("Sunday", "cloudy", 16)]),
    "Lisbon": ((22, "sunny"), [("Saturday", "sunny", 24), ("Sunday", "sunny", 25)]),
    "Berlin": ((9, "overcast"), [("Saturday", "rain", 8), ("Sunday", "cloudy", 10)]),
    "Tokyo": ((18, "clear"), [("Saturday", "clear", 19), ("Sunday", "rain", 17)]),
    "Toronto": ((3, "snow flurries"), [("Saturday", "snow", -1), ("Sunday", "sunny", 2)]),
}
WET = ("rain", "showers", "snow")

V3_BREAKING_CHANGES = [
    "`/v2/notes` becomes `/v3/notes` and paginates with cursors instead of page numbers",
    "`created` and `updated` are RFC 3339 strings instead of Unix seconds",
    "GET requests need a token with the `notes:read` scope",
    "`DELETE /notebooks/{id}` moves the notes to Trash instead of deleting them",
    "webhook payloads are signed with HMAC-SHA256 in `X-Nimbus-Signature`",
    "`tags` is a list of `{id, name}` objects instead of strings",
    "rate limits apply per token (600/min) instead of per workspace",
    "`share_url` is removed: create links with `POST /v3/shares`",
    "attachments are uploaded to pre-signed URLs; multipart upload is gone",
    "error bodies follow RFC 9457 (application/problem+json)",
    "`GET /v2/search` is replaced by `POST /v3/search` with a JSON body",
    "workspace ids carry a `ws_` prefix",
    "archived notes are left out of lists unless `include_archived=true`",
    "the `color` field of notebooks is removed",
    "the OAuth implicit grant is no longer supported",
]
NON_BREAKING = [
    "faster thumbnail generation for large PDFs",
    "new `GET /v3/me/usage` endpoint",
    "the iOS share sheet keeps the selected notebook",
    "`include_attachments` defaults to false in exports",
    "better OCR for handwritten notes",
    "search results show the matching snippet",
]

TICKET = (
    "Hi, since this morning the desktop app says 'Sync paused: storage quota exceeded' and the edits I make on "
    "my iPad don't show up on my laptop. I'm on Pro and I only use about 3 GB. I have a client meeting in two "
    "hours and need those notes. Can you help? - Maria"
)
CHANNEL_TOPICS = {
    "#release-3-0": ["the iOS build is blocked on review", "QA signed off Android", "release notes need a pass"],
    "#support": ["sync quota false positives on Pro", "two refunds approved", "SSO setup calls with Acme"],
    "#infra": ["EU cluster migration done", "p99 sync latency back under 300 ms", "Redis upgrade on Thursday"],
    "#design": ["new onboarding flow in Figma", "dark mode contrast fixes", "icon set v2 review"],
    "#sales": ["3 Team deals closed", "pricing page A/B test", "Acme wants audit log exports"],
}
PEOPLE = ["Ana", "Ben", "Chloe", "Dev", "Eitan", "Fatima", "Gus", "Hana"]


# ---------------------------------------------------------------------------------------------------------------
# Span helpers


@dataclass(frozen=True)
class Failure:
    """An exception as the instrumentations record it: status ERROR, error.type, an `exception` event."""

    exception_type: str  # module-qualified, as SDK's record_exception writes it
    message: str
    frames: tuple[str, ...] = ()

    @property
    def error_type(self) -> str:
        return self.exception_type.rsplit(".", 1)[-1]

    def stacktrace(self) -> str:
        frames = "".join(f'  File "{frame}"\n' for frame in self.frames)
        return f"Traceback (most recent call last):\n{frames}{self.exception_type}: {self.message}\n"


OPENAI_FRAMES = (
    '/srv/app/.venv/lib/python3.12/site-packages/openai/_base_client.py", line 1047, in request',
    '/srv/app/.venv/lib/python3.12/site-packages/openai/resources/chat/completions/completions.py", line 1147, '
    "in create",
)


def _start(tracer: Tracer, name: str, start_ns: int, *, parent: Span | None, kind=SpanKind.INTERNAL, attributes=None):
    # An empty Context for roots: a span active in the caller must never become the demo's parent.
    context = set_span_in_context(parent) if parent is not None else Context()
    return tracer.start_span(name, context=context, kind=kind, attributes=attributes, start_time=start_ns)


def _end(span: Span, end_ns: int, failure: Failure | None = None, *, ok: bool = False) -> int:
    if failure is not None:
        span.set_attribute("error.type", failure.error_type)
        span.add_event(
            "exception",
            {
                "exception.type": failure.exception_type,
                "exception.message": failure.message,
                "exception.stacktrace": failure.stacktrace(),
                "exception.escaped": "False",
            },
            timestamp=end_ns - MS,
        )
        span.set_status(Status(StatusCode.ERROR, f"{failure.error_type}: {failure.message}"))
    elif ok:
        span.set_status(Status(StatusCode.OK))
    span.end(end_time=end_ns)
    return end_ns


def text(role: str, content: str) -> dict:
    return {"role": role, "parts": [{"type": "text", "content": content}]}


def tool_call(call_id: str, name: str, arguments: dict) -> dict:
    return {"type": "tool_call", "id": call_id, "name": name, "arguments": arguments}


def tool_response(call_id: str, response: str) -> dict:
    return {"role": "tool", "parts": [{"type": "tool_call_response", "id": call_id, "response": response}]}


def tokens_of(messages: list[dict]) -> int:
    """Roughly what a tokenizer says: ~4 characters a token, plus the per-message overhead of the chat format."""
    chars = sum(len(json.dumps(m["parts"])) for m in messages)
    return chars // 4 + 4 * len(messages)


def _latency_ms(rng: random.Random, model: str, output_tokens: int) -> float:
    per_token = {"gpt-4o": 24.0, "gpt-4o-mini": 14.0}.get(model, 10.0)
    return rng.uniform(280, 650) + output_tokens * per_token * rng.uniform(0.8, 1.25)


def chat(
    tracer: Tracer,
    rng: random.Random,
    parent: Span,
    start_ns: int,
    *,
    model: str,
    messages: list[dict],
    reply: list[dict] | None = None,
    finish_reason: str = "stop",
    duration_ms: float | None = None,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    failure: Failure | None = None,
    traceloop: bool = False,
    extra: dict | None = None,
) -> int:
    """One chat completion span; returns its end time. `reply` is the assistant's parts."""
    input_tokens = tokens_of(messages) if input_tokens is None else input_tokens
    output = [{"role": "assistant", "parts": reply or [], "finish_reason": finish_reason}]
    if output_tokens is None:
        output_tokens = 0 if failure else max(1, tokens_of(output) - 4)
    if duration_ms is None:
        duration_ms = rng.uniform(150, 900) if failure else _latency_ms(rng, model, output_tokens)
    # Traceloop serialises with json.dumps defaults; util-genai writes compact JSON.
    dumps = json.dumps if traceloop else partial(json.dumps, separators=(",", ":"))
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": model,
        "gen_ai.input.messages": dumps(messages),
    }
    if traceloop:
        attributes |= {"gen_ai.is_streaming": False, "gen_ai.openai.api_base": "https://api.openai.com/v1/"}
    else:
        attributes |= {"server.address": "api.openai.com", "server.port": 443}
    if not failure:
        attributes |= {
            "gen_ai.response.model": RESPONSE_MODEL.get(model, model),
            "gen_ai.response.id": f"chatcmpl-{rng.getrandbits(96):024x}",
            "gen_ai.response.finish_reasons": (finish_reason,),
            "gen_ai.usage.input_tokens": input_tokens,
            "gen_ai.usage.output_tokens": output_tokens,
            "gen_ai.output.messages": dumps(output),
        }
        if traceloop:
            attributes["gen_ai.usage.total_tokens"] = input_tokens + output_tokens
    attributes |= extra or {}
    name = "openai.chat" if traceloop else f"chat {model}"
    span = _start(tracer, name, start_ns, parent=parent, kind=SpanKind.CLIENT, attributes=attributes)
    return _end(span, start_ns + int(duration_ms * MS), failure)


def embeddings(tracer: Tracer, rng: random.Random, parent: Span, start_ns: int, *, inputs: list[str]) -> int:
    model = "text-embedding-3-small"
    attributes = {
        "gen_ai.operation.name": "embeddings",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": model,
        "gen_ai.response.model": model,
        "gen_ai.usage.input_tokens": sum(len(t) for t in inputs) // 4 + 1,
        "gen_ai.embeddings.dimension.count": 1536,
        "server.address": "api.openai.com",
        "server.port": 443,
    }
    span = _start(tracer, f"embeddings {model}", start_ns, parent=parent, kind=SpanKind.CLIENT, attributes=attributes)
    return _end(span, start_ns + int(rng.uniform(90, 260) * MS))


def execute_tool(
    tracer: Tracer,
    rng: random.Random,
    parent: Span,
    start_ns: int,
    *,
    name: str,
    call_id: str,
    arguments: dict,
    result: str,
    description: str,
    duration_ms: float | None = None,
) -> int:
    """A tool call as util-genai's execute_tool span records it (arguments and result as strings)."""
    attributes = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": name,
        "gen_ai.tool.type": "function",
        "gen_ai.tool.call.id": call_id,
        "gen_ai.tool.description": description,
        "gen_ai.tool.call.arguments": json.dumps(arguments, separators=(",", ":")),
        "gen_ai.tool.call.result": result,
    }
    span = _start(tracer, f"execute_tool {name}", start_ns, parent=parent, attributes=attributes)
    return _end(span, start_ns + int((duration_ms or rng.uniform(60, 420)) * MS))


def _gap(rng: random.Random, low_ms: float = 2, high_ms: float = 25) -> int:
    """App time between two calls (parsing, prompt building): short, never zero."""
    return int(rng.uniform(low_ms, high_ms) * MS)


def _session_id(rng: random.Random) -> str:
    return f"sess-{rng.getrandbits(48):012x}"


def _http_server_attributes(route: str, status: int) -> dict:
    # What opentelemetry-instrumentation-django/fastapi put on the request span (current HTTP semconv).
    return {
        "http.request.method": "POST",
        "http.route": route,
        "url.path": route,
        "url.scheme": "https",
        "server.address": "answers.nimbus.example",
        "user_agent.original": "nimbus-ios/5.2.0 (iPhone; iOS 18.1)",
        "http.response.status_code": status,
    }


# ---------------------------------------------------------------------------------------------------------------
# a. RAG answers (support-bot): CHAIN rag.answer -> RETRIEVER retrieve -> chat gpt-4o-mini


def rag_system_prompt(doc_ids: list[str]) -> str:
    context = "\n\n".join(f"[{d}] {DOCS[d][0]}: {DOCS[d][1]}" for d in doc_ids)
    return (
        "You are the Nimbus Notes help assistant. Answer the user's question using only the documentation "
        "excerpts below, in at most three sentences. If the excerpts don't answer it, say so.\n\n" + context
    )


def rag_answer(
    tracer: Tracer,
    start_ns: int,
    rng: random.Random,
    *,
    turn: Turn,
    session_id: str,
    user_id: str,
    history: Sequence[dict] = (),
) -> int:
    """One question answered from the docs; `history` (parts messages) carries the session's earlier turns."""
    who = {"session.id": session_id, "user.id": user_id}
    root = _start(
        tracer,
        "rag.answer",
        start_ns,
        parent=None,
        attributes={
            "openinference.span.kind": "CHAIN",
            "input.value": turn.question,
            "input.mime_type": "text/plain",
            "metadata": json.dumps({"channel": rng.choice(["web", "web", "slack", "ios"])}),
            "tag.tags": ("docs-qa",),
            **who,
        },
    )
    t = start_ns + _gap(rng)
    others = [d for d in DOCS if d not in turn.docs]
    picked = list(turn.docs[:3]) + rng.sample(others, 3 - len(turn.docs[:3]))
    scores = sorted((rng.uniform(0.78, 0.93) for _ in turn.docs[:3]), reverse=True)
    scores += sorted((rng.uniform(0.42, 0.71) for _ in range(3 - len(scores))), reverse=True)
    documents = {}
    for i, (doc_id, score) in enumerate(zip(picked, scores, strict=True)):
        title, content = DOCS[doc_id]
        documents |= {
            f"retrieval.documents.{i}.document.id": doc_id,
            f"retrieval.documents.{i}.document.content": content,
            f"retrieval.documents.{i}.document.score": round(score, 4),
            f"retrieval.documents.{i}.document.metadata": json.dumps({"title": title, "source": f"docs/{doc_id}"}),
        }
    retriever = _start(
        tracer,
        "retrieve",
        t,
        parent=root,
        attributes={
            "openinference.span.kind": "RETRIEVER",
            "input.value": turn.question,
            "input.mime_type": "text/plain",
            **documents,
            **who,
        },
    )
    t = _end(retriever, t + int(rng.uniform(45, 220) * MS)) + _gap(rng)
    messages = [text("system", rag_system_prompt(picked)), *history, text("user", turn.question)]
    # OpenInference's using_attributes puts the session on the model call too; OTel GenAI calls it a conversation.
    t = chat(
        tracer,
        rng,
        root,
        t,
        model="gpt-4o-mini",
        messages=messages,
        reply=[{"type": "text", "content": turn.answer}],
        extra={**who, "gen_ai.conversation.id": session_id},
    )
    root.set_attribute("output.value", turn.answer)
    root.set_attribute("output.mime_type", "text/plain")
    return _end(root, t + _gap(rng), ok=True)


def rag_session(tracer: Tracer, start_ns: int, rng: random.Random, *, user_id: str, turns: list[Turn]) -> int:
    """A multi-turn conversation: one trace per turn, same session.id; later turns send the history."""
    session_id = _session_id(rng)
    history: list[dict] = []
    t = start_ns
    for turn in turns:
        end = rag_answer(tracer, t, rng, turn=turn, session_id=session_id, user_id=user_id, history=list(history))
        history += [text("user", turn.question), text("assistant", turn.answer)]
        t = end + int(rng.uniform(25, 150) * SECOND)  # the user reads, then types the follow-up
    return len(turns)


def rag_single(tracer: Tracer, start_ns: int, rng: random.Random) -> int:
    rag_answer(
        tracer, start_ns, rng, turn=rng.choice(SINGLE_QUESTIONS), session_id=_session_id(rng), user_id=rng.choice(USERS)
    )
    return 1


# ---------------------------------------------------------------------------------------------------------------
# b. Tool-calling agent (research-agent): AGENT weather-agent -> chat (tool calls) -> execute_tool x2 -> chat

WEATHER_SYSTEM = (
    "You are Nimbus Travel, a packing assistant. Use the tools to check the weather before you answer; "
    "answer in two sentences."
)
GET_WEATHER = "Get the current weather for a city."
LOOKUP_FORECAST = "Look up the forecast for the next days in a city."


def weather_agent(
    tracer: Tracer, start_ns: int, rng: random.Random, *, city: str, forecast_missing: bool = False
) -> int:
    """The model asks for two tools; when the forecast service has no data the tool returns null and the
    final answer turns vague (the pattern a "tool returned nothing" detector looks for)."""
    (temp, conditions), forecast = WEATHER[city]
    question = f"Should I pack an umbrella for {city} this weekend?"
    user_id = rng.choice(USERS)
    root = _start(
        tracer,
        "weather-agent",
        start_ns,
        parent=None,
        attributes={
            "openinference.span.kind": "AGENT",
            "gen_ai.agent.name": "weather-agent",
            "input.value": question,
            "input.mime_type": "text/plain",
            "user.id": user_id,
        },
    )
    messages = [text("system", WEATHER_SYSTEM), text("user", question)]
    calls = [
        tool_call("call_1", "get_weather", {"city": city}),
        tool_call("call_2", "lookup_forecast", {"city": city, "days": 3}),
    ]
    t = chat(
        tracer,
        rng,
        root,
        start_ns + _gap(rng),
        model="gpt-4o-mini",
        messages=messages,
        reply=calls,
        finish_reason="tool_calls",
    )
    now = json.dumps({"city": city, "temperature_c": temp, "conditions": conditions})
    t = execute_tool(
        tracer,
        rng,
        root,
        t + _gap(rng),
        name="get_weather",
        call_id="call_1",
        arguments={"city": city},
        result=now,
        description=GET_WEATHER,
    )
    # json.dumps(None): what an app that serialises its tool's return value sends when the tool found nothing.
    days = (
        "null" if forecast_missing else json.dumps([{"day": d, "conditions": c, "high_c": h} for d, c, h in forecast])
    )
    t = execute_tool(
        tracer,
        rng,
        root,
        t + _gap(rng),
        name="lookup_forecast",
        call_id="call_2",
        arguments={"city": city, "days": 3},
        result=days,
        description=LOOKUP_FORECAST,
    )
    if forecast_missing:
        answer = (
            f"Right now it's {conditions} in {city} ({temp} °C). I couldn't get the forecast for the weekend, "
            "so it's hard to say; an umbrella might be worth packing just in case."
        )
    elif any(c in WET for _, c, _ in forecast):
        wet_day = next(d for d, c, _ in forecast if c in WET)
        answer = f"Yes, pack one: it's {conditions} in {city} now ({temp} °C) and {wet_day} looks wet."
    else:
        answer = f"No need: it's {conditions} in {city} ({temp} °C) and the weekend stays dry."
    messages = [
        *messages,
        {"role": "assistant", "parts": calls},
        tool_response("call_1", now),
        tool_response("call_2", days),
    ]
    t = chat(
        tracer,
        rng,
        root,
        t + _gap(rng),
        model="gpt-4o-mini",
        messages=messages,
        reply=[{"type": "text", "content": answer}],
    )
    root.set_attribute("output.value", answer)
    root.set_attribute("output.mime_type", "text/plain")
    _end(root, t + _gap(rng), ok=True)
    return 1


# ---------------------------------------------------------------------------------------------------------------
# c. The slow /v1/answer endpoint (answer-api): an LLM judge runs after the answer, on the request path

ANSWER_SYSTEM = "You are Nimbus Notes' support assistant. Answer in at most three sentences."
JUDGE_SYSTEM = (
    "You are a grader. Rate the faithfulness of the ANSWER to the QUESTION from 0 to 1 (1 = every claim is "
    'supported, nothing invented). Reply with JSON only: {"score": <float>, "reason": "<one sentence>"}.'
)


def answer_with_judge(
    tracer: Tracer,
    start_ns: int,
    rng: random.Random,
    *,
    turn: Turn,
    answer_ms: float | None = None,
    judge_ms: float | None = None,
) -> int:
    """SERVER span POST /v1/answer -> chat gpt-4o (the answer) -> chat gpt-4o-mini (the judge, sequential)."""
    root = _start(
        tracer,
        "POST /v1/answer",
        start_ns,
        parent=None,
        kind=SpanKind.SERVER,
        attributes=_http_server_attributes("/v1/answer", 200),
    )
    t = chat(
        tracer,
        rng,
        root,
        start_ns + _gap(rng, 3, 12),
        model="gpt-4o",
        messages=[text("system", ANSWER_SYSTEM), text("user", turn.question)],
        reply=[{"type": "text", "content": turn.answer}],
        duration_ms=answer_ms,
    )
    score = round(rng.choice([1.0, 1.0, 0.9, 0.8, 0.6]), 1)
    verdict = json.dumps(
        {
            "score": score,
            "reason": "Every claim matches the product documentation."
            if score >= 0.9
            else "Mostly supported; one detail is not in the docs.",
        }
    )
    t = chat(
        tracer,
        rng,
        root,
        t + _gap(rng),
        model="gpt-4o-mini",
        messages=[text("system", JUDGE_SYSTEM), text("user", f"QUESTION: {turn.question}\nANSWER: {turn.answer}")],
        reply=[{"type": "text", "content": verdict}],
        duration_ms=judge_ms,
    )
    _end(root, t + _gap(rng, 1, 6))
    return 1


def triage_sequential(tracer: Tracer, start_ns: int, rng: random.Random) -> int:
    """POST /v1/triage: two Traceloop openai.chat calls on the same ticket, independent but run one after the
    other (5.7 s + 4.8 s that could have overlapped)."""
    root = _start(
        tracer,
        "POST /v1/triage",
        start_ns,
        parent=None,
        kind=SpanKind.SERVER,
        attributes=_http_server_attributes("/v1/triage", 200),
    )
    summary = (
        "Pro customer's sync is paused by a false 'storage quota exceeded' error (uses ~3 GB of 50 GB); iPad "
        "edits don't reach the laptop; urgent, client meeting in two hours."
    )
    t = chat(
        tracer,
        rng,
        root,
        start_ns + _gap(rng, 3, 12),
        model="gpt-4o-mini",
        messages=[
            text("system", "Summarise this support ticket in one sentence for the on-call engineer."),
            text("user", TICKET),
        ],
        reply=[{"type": "text", "content": summary}],
        duration_ms=5700,
        traceloop=True,
    )
    category = json.dumps({"category": "sync", "priority": "high", "sentiment": "frustrated"})
    t = chat(
        tracer,
        rng,
        root,
        t + _gap(rng),
        model="gpt-4o-mini",
        messages=[
            text(
                "system",
                'Classify this support ticket. Reply with JSON: {"category": one of billing|sync|account|export|'
                'other, "priority": low|normal|high, "sentiment": calm|frustrated|angry}.',
            ),
            text("user", TICKET),
        ],
        reply=[{"type": "text", "content": category}],
        duration_ms=4800,
        traceloop=True,
    )
    _end(root, t + _gap(rng, 1, 6))
    return 1


# ---------------------------------------------------------------------------------------------------------------
# d. Loops (research-agent): the same tool + model 15 times in a row; a retry storm (answer-api)

RESEARCH_TASK = "List every breaking change between API v2 and v3 for our migration guide."
EXTRACT_SYSTEM = (
    "You are a research agent. Call search_docs page by page through the v3 changelog; after each page, list "
    "the new breaking changes you found, then call search_docs for the next page until you reach the last one."
)
SEARCH_DOCS = "Search the developer documentation; results are paginated."
# The migration guide's prose around each changelog page: what a docs search returns with its hits, and what makes
# the agent's re-sent history grow by a few hundred tokens a step (insights: the context-growth scenario).
MIGRATION_NOTES = [
    "Migration notes: v2 keeps working until 31 March; after that date every /v2 route answers 410 Gone. Both "
    "versions can be called with the same token during the transition, so clients can move one endpoint at a "
    "time. The v3 reference lists, for each endpoint, the v2 route it replaces and the fields that changed type. "
    "SDKs from 4.0 on speak v3 only; pin 3.x while you migrate, then upgrade in one step. Run the v3 contract "
    "tests against the sandbox workspace first: it mirrors production data shapes but never sends emails. "
    "The changelog below lists every change of this page; the reference has the full request and response schemas.",
    "Migration notes: cursors are opaque strings; store them as they are and pass them back in `cursor`. A cursor "
    "stays valid for 24 hours. Lists default to 50 items and accept up to 200 with `limit`. Totals are no longer "
    "returned, since counting large notebooks made v2 list calls slow; ask `GET /v3/notebooks/{id}/stats` instead. "
    "Iterate until `next_cursor` is null; items added while you page appear at most once, items deleted may be "
    "skipped. Sorting is fixed per cursor: changing `order` means starting again from the first page.",
    "Migration notes: check webhook signatures before parsing the body: compute HMAC-SHA256 over the raw bytes with "
    "the endpoint secret and compare in constant time. Deliveries are retried with backoff for 24 hours; answer "
    "2xx within 10 seconds or the attempt counts as failed. Secrets can be rotated with two active at once. "
    "Events may arrive out of order: compare `occurred_at`, and treat `event_id` as an idempotency key. The "
    "`GET /v3/webhooks/{id}/deliveries` endpoint lists the last 1,000 attempts with their response codes.",
    "Migration notes: scopes are checked on every request: `notes:read`, `notes:write`, `shares:write` and "
    "`admin`. Tokens created before v3 carry every scope of their creator and keep working; new tokens start "
    "with none. A request without the scope it needs answers 403 with `missing_scope` in the problem details. "
    "Workspace admins can list and revoke tokens under Settings > Developer > Tokens. "
    "Service accounts get their own tokens, so a person leaving the workspace no longer breaks an integration.",
]


def doc_research_loop(tracer: Tracer, start_ns: int, rng: random.Random, *, steps: int = 15) -> int:
    """AGENT doc-researcher: execute_tool search_docs -> embeddings -> chat extract, `steps` times, each after
    the previous; the conversation (and so the input tokens) grows at every step."""
    root = _start(
        tracer,
        "doc-researcher",
        start_ns,
        parent=None,
        attributes={
            "openinference.span.kind": "AGENT",
            "gen_ai.agent.name": "doc-researcher",
            "input.value": RESEARCH_TASK,
            "input.mime_type": "text/plain",
            "user.id": "user-4012",
        },
    )
    messages = [text("system", EXTRACT_SYSTEM), text("user", RESEARCH_TASK)]
    found: list[str] = []
    t = start_ns + _gap(rng)
    for step in range(steps):
        page = step + 1
        call_id = f"call_{page}"
        arguments = {"query": "v3 breaking changes", "page": page}
        entries = [V3_BREAKING_CHANGES[step % len(V3_BREAKING_CHANGES)], *rng.sample(NON_BREAKING, 2)]
        rng.shuffle(entries)
        result = f"API changelog v3 (page {page} of {steps}):\n" + "\n".join(f"- {e}" for e in entries)
        result += "\n\n" + MIGRATION_NOTES[step % len(MIGRATION_NOTES)]
        t = execute_tool(
            tracer,
            rng,
            root,
            t,
            name="search_docs",
            call_id=call_id,
            arguments=arguments,
            result=result,
            description=SEARCH_DOCS,
        )
        t = embeddings(tracer, rng, root, t + _gap(rng), inputs=entries) + _gap(rng)
        messages = [*messages, tool_response(call_id, result)]
        found.append(V3_BREAKING_CHANGES[step % len(V3_BREAKING_CHANGES)])
        note = f"Breaking so far ({len(found)}): " + "; ".join(found)
        reply: list[dict] = [{"type": "text", "content": note}]
        if page < steps:
            reply.append(
                tool_call(f"call_{page + 1}", "search_docs", {"query": "v3 breaking changes", "page": page + 1})
            )
        t = chat(
            tracer,
            rng,
            root,
            t,
            model="gpt-4o-mini",
            messages=messages,
            reply=reply,
            finish_reason="tool_calls" if page < steps else "stop",
        )
        messages = [*messages, {"role": "assistant", "parts": reply}]
        t += _gap(rng)
    root.set_attribute("output.value", "\n".join(f"- {c}" for c in found))
    root.set_attribute("output.mime_type", "text/plain")
    _end(root, t, ok=True)
    return 1


RATE_LIMIT = Failure(
    "openai.RateLimitError",
    "Error code: 429 - {'error': {'message': 'Rate limit reached for gpt-4o in organization org-nimbus on tokens "
    "per min (TPM): Limit 30000, Used 29412, Requested 1893. Please try again in 2.61s.', 'type': 'tokens', "
    "'code': 'rate_limit_exceeded'}}",
    OPENAI_FRAMES,
)
SUMMARY_SYSTEM = "Summarise the customer conversation in three bullet points for the account manager."
CONVERSATION = (
    "Customer: We moved our team of 40 to Nimbus last month.\nAgent: Welcome! How is it going?\n"
    "Customer: Mostly great, but SSO with Okta keeps logging people out every few hours.\n"
    "Agent: That's the session lifetime in your Okta app; Nimbus follows it.\n"
    "Customer: OK. Also, can we get audit logs exported to our SIEM?\n"
    "Agent: Audit logs are in the Team plan; export to a SIEM is on the roadmap for Q3.\n"
    "Customer: Then we'll need it before renewal in September."
)


def retry_storm(tracer: Tracer, start_ns: int, rng: random.Random) -> int:
    """POST /v1/summarize: four chat gpt-4o calls rejected with 429, retried with exponential backoff by the
    app, then one success."""
    root = _start(
        tracer,
        "POST /v1/summarize",
        start_ns,
        parent=None,
        kind=SpanKind.SERVER,
        attributes=_http_server_attributes("/v1/summarize", 200),
    )
    messages = [text("system", SUMMARY_SYSTEM), text("user", CONVERSATION)]
    t = start_ns + _gap(rng, 3, 12)
    for attempt in range(4):
        t = chat(
            tracer,
            rng,
            root,
            t,
            model="gpt-4o",
            messages=messages,
            failure=RATE_LIMIT,
            duration_ms=rng.uniform(140, 320),
        )
        t += int((0.5 * 2**attempt + rng.uniform(0, 0.25)) * SECOND)  # backoff: 0.5 s, 1 s, 2 s, 4 s + jitter
    summary = (
        "- 40-seat team migrated last month; overall happy.\n- Okta SSO sessions expire every few hours "
        "(their Okta session lifetime).\n- Needs audit log export to their SIEM before the September renewal."
    )
    t = chat(tracer, rng, root, t, model="gpt-4o", messages=messages, reply=[{"type": "text", "content": summary}])
    _end(root, t + _gap(rng, 1, 6))
    return 1


# ---------------------------------------------------------------------------------------------------------------
# e. Errors: a model call failing with HTTP 500 (answer-api), a tool that raises (research-agent)

SERVER_ERROR = Failure(
    "openai.InternalServerError",
    "Error code: 500 - {'error': {'message': 'The server had an error while processing your request. Sorry "
    "about that!', 'type': 'server_error', 'param': None, 'code': None}}",
    OPENAI_FRAMES,
)
TOOL_TIMEOUT = Failure(
    "httpx.ReadTimeout",
    "timed out",
    (
        '/srv/agent/tools/weather.py", line 41, in get_weather',
        '/srv/agent/.venv/lib/python3.12/site-packages/httpx/_transports/default.py", line 118, in map_httpcore_exceptions',
    ),
)


def answer_server_error(tracer: Tracer, start_ns: int, rng: random.Random, *, turn: Turn) -> int:
    """POST /v1/answer whose gpt-4o call fails with openai.InternalServerError: the request answers 500."""
    root = _start(
        tracer,
        "POST /v1/answer",
        start_ns,
        parent=None,
        kind=SpanKind.SERVER,
        attributes=_http_server_attributes("/v1/answer", 500),
    )
    t = chat(
        tracer,
        rng,
        root,
        start_ns + _gap(rng, 3, 12),
        model="gpt-4o",
        messages=[text("system", ANSWER_SYSTEM), text("user", turn.question)],
        failure=SERVER_ERROR,
        duration_ms=rng.uniform(600, 1400),
    )
    # HTTP semconv: a 5xx server span is an error, and error.type is the status code.
    root.set_attribute("error.type", "500")
    root.set_status(Status(StatusCode.ERROR))
    root.end(end_time=t + _gap(rng, 1, 6))
    return 1


def tool_raises(tracer: Tracer, start_ns: int, rng: random.Random, *, city: str) -> int:
    """weather-agent whose get_weather tool (an OpenInference TOOL span) raises httpx.ReadTimeout; the agent
    passes the error to the model, which apologises."""
    question = f"Is it warm enough for a picnic in {city} tomorrow?"
    root = _start(
        tracer,
        "weather-agent",
        start_ns,
        parent=None,
        attributes={
            "openinference.span.kind": "AGENT",
            "gen_ai.agent.name": "weather-agent",
            "input.value": question,
            "input.mime_type": "text/plain",
            "user.id": rng.choice(USERS),
        },
    )
    messages = [text("system", WEATHER_SYSTEM), text("user", question)]
    call = tool_call("call_1", "get_weather", {"city": city})
    t = chat(
        tracer,
        rng,
        root,
        start_ns + _gap(rng),
        model="gpt-4o-mini",
        messages=messages,
        reply=[call],
        finish_reason="tool_calls",
    )
    t += _gap(rng)
    tool = _start(
        tracer,
        "get_weather",
        t,
        parent=root,
        attributes={
            "openinference.span.kind": "TOOL",
            "tool.name": "get_weather",
            "tool.description": GET_WEATHER,
            "tool_call.id": "call_1",
            "input.value": json.dumps({"city": city}),
            "input.mime_type": "application/json",
        },
    )
    t = _end(tool, t + 10 * SECOND, TOOL_TIMEOUT)  # the weather client's 10 s read timeout
    error = "Error: get_weather failed: ReadTimeout: timed out"
    answer = f"Sorry, I couldn't reach the weather service for {city} just now. Please try again in a minute."
    t = chat(
        tracer,
        rng,
        root,
        t + _gap(rng),
        model="gpt-4o-mini",
        messages=[*messages, {"role": "assistant", "parts": [call]}, tool_response("call_1", error)],
        reply=[{"type": "text", "content": answer}],
    )
    root.set_attribute("output.value", answer)
    _end(root, t + _gap(rng), ok=True)
    return 1


# ---------------------------------------------------------------------------------------------------------------
# f. Waste: the same prompt sent twice (support-bot); one gpt-4o call with 12k input tokens (research-agent)

THREAD = (
    "Ana: the Android widget shows yesterday's notes until you open the app\n"
    "Ben: repro on Pixel 8, Android 15; the widget refresh job is killed by battery saver\n"
    "Chloe: we could switch the widget to WorkManager with an expedited request\n"
    "Ben: that fixes it on my phone, PR #4821\n"
    "Ana: ship it in 5.2.1, and add a note to the known issues page until then"
)


def duplicate_prompt(tracer: Tracer, start_ns: int, rng: random.Random) -> int:
    """CHAIN summarize-thread whose summary is requested twice with the identical prompt (a double call)."""
    summary = (
        "The Android widget goes stale because battery saver kills its refresh job; moving it to WorkManager "
        "(PR #4821) fixes it, shipping in 5.2.1 with a known-issues note meanwhile."
    )
    root = _start(
        tracer,
        "summarize-thread",
        start_ns,
        parent=None,
        attributes={
            "openinference.span.kind": "CHAIN",
            "input.value": THREAD,
            "input.mime_type": "text/plain",
            "user.id": rng.choice(USERS),
        },
    )
    messages = [text("system", "Summarise this Slack thread in one sentence."), text("user", THREAD)]
    t = start_ns + _gap(rng)
    for _ in range(2):
        t = chat(
            tracer, rng, root, t, model="gpt-4o-mini", messages=messages, reply=[{"type": "text", "content": summary}]
        )
        t += _gap(rng)
    root.set_attribute("output.value", summary)
    _end(root, t, ok=True)
    return 1


def cost_hotspot(tracer: Tracer, start_ns: int, rng: random.Random) -> int:
    """CHAIN weekly-digest: five cheap gpt-4o-mini channel summaries, then one gpt-4o call that is sent the raw
    transcripts again (12k input tokens) and costs more than everything else in the trace."""
    root = _start(
        tracer,
        "weekly-digest",
        start_ns,
        parent=None,
        attributes={
            "openinference.span.kind": "CHAIN",
            "input.value": json.dumps({"week": "2025-W14", "channels": list(CHANNEL_TOPICS)}),
            "input.mime_type": "application/json",
        },
    )
    t = start_ns + _gap(rng)
    transcripts = []
    for channel, topics in CHANNEL_TOPICS.items():
        lines = [f"{rng.choice(PEOPLE)}: {rng.choice(topics)}" for _ in range(12)]
        transcript = f"{channel}\n" + "\n".join(lines)
        transcripts.append(transcript)
        t = chat(
            tracer,
            rng,
            root,
            t,
            model="gpt-4o-mini",
            messages=[text("system", "Summarise this channel's week in two sentences."), text("user", transcript)],
            reply=[{"type": "text", "content": f"{channel}: " + "; ".join(topics) + "."}],
        )
        t += _gap(rng)
    digest = "This week: " + " ".join(f"{c} - {topics[0]}." for c, topics in CHANNEL_TOPICS.items())
    # The prompt is abridged here; the usage is what the full transcripts cost.
    t = chat(
        tracer,
        rng,
        root,
        t,
        model="gpt-4o",
        messages=[
            text("system", "Write the weekly digest for the whole company from these channel transcripts."),
            text("user", "\n\n".join(transcripts)),
        ],
        reply=[{"type": "text", "content": digest}],
        input_tokens=12_240,
        output_tokens=610,
    )
    root.set_attribute("output.value", digest)
    _end(root, t + _gap(rng), ok=True)
    return 1


# ---------------------------------------------------------------------------------------------------------------
# The day's plan


@dataclass(frozen=True)
class Unit:
    """One scenario run: which app sends it and how to build it from (tracer, start_ns, rng)."""

    service: str
    build: Callable[[Tracer, int, random.Random], int]
    traces: int  # how many traces it emits


def plan(rng: random.Random, traces: int) -> list[Unit]:
    """Every scenario at least once (the `core`), then everyday traffic up to about `traces` traces."""
    core = [Unit(SUPPORT_BOT, partial(rag_session, user_id=u, turns=turns), len(turns)) for u, turns in SESSIONS]
    core += [
        Unit(RESEARCH_AGENT, partial(weather_agent, city="Paris", forecast_missing=True), 1),
        Unit(RESEARCH_AGENT, partial(weather_agent, city="Berlin", forecast_missing=True), 1),
        Unit(ANSWER_API, partial(answer_with_judge, turn=SINGLE_QUESTIONS[0], answer_ms=4800, judge_ms=5700), 1),
        Unit(ANSWER_API, triage_sequential, 1),
        Unit(RESEARCH_AGENT, doc_research_loop, 1),
        Unit(ANSWER_API, retry_storm, 1),
        Unit(ANSWER_API, partial(answer_server_error, turn=SINGLE_QUESTIONS[4]), 1),
        Unit(RESEARCH_AGENT, partial(tool_raises, city="Toronto"), 1),
        Unit(SUPPORT_BOT, duplicate_prompt, 1),
        Unit(RESEARCH_AGENT, cost_hotspot, 1),
    ]
    everyday: list[tuple[float, Callable[[], Unit]]] = [
        (0.45, lambda: Unit(SUPPORT_BOT, rag_single, 1)),
        (0.25, lambda: Unit(ANSWER_API, partial(answer_with_judge, turn=rng.choice(SINGLE_QUESTIONS)), 1)),
        (0.18, lambda: Unit(RESEARCH_AGENT, partial(weather_agent, city=rng.choice(list(WEATHER))), 1)),
        (
            0.04,
            lambda: Unit(
                RESEARCH_AGENT, partial(weather_agent, city=rng.choice(list(WEATHER)), forecast_missing=True), 1
            ),
        ),
        (0.04, lambda: Unit(ANSWER_API, partial(answer_server_error, turn=rng.choice(SINGLE_QUESTIONS)), 1)),
        (0.04, lambda: Unit(RESEARCH_AGENT, partial(tool_raises, city=rng.choice(list(WEATHER))), 1)),
    ]
    units = list(core)
    count = sum(u.traces for u in units)
    while count < traces:
        (make,) = rng.choices([m for _, m in everyday], weights=[w for w, _ in everyday])
        units.append(make())
        count += 1
    rng.shuffle(units)
    return units


def emit(tracer_for: Callable[[str], Tracer], *, end_ns: int, traces: int = 80, seed: int = 7) -> int:
    """Build the whole demo, spread over the 24 hours before `end_ns`; returns the number of traces.

    Each unit gets its own slot of the day, so a multi-turn session (a few minutes) never runs past the next
    unit nor past `end_ns`.
    """
    rng = random.Random(seed)
    units = plan(rng, traces)
    window = DAY - 30 * 60 * SECOND  # the last half hour stays free: the longest session fits before end_ns
    slot = window // len(units)
    start = end_ns - DAY
    sent = 0
    for i, unit in enumerate(units):
        t0 = start + i * slot + int(rng.uniform(0, 0.4) * slot)
        sent += unit.build(tracer_for(unit.service), t0, rng)
    return sent
