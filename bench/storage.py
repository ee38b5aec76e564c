"""Storage benchmark: bytes on disk per span, with and without traces.lean (issue 14 §1).

    .venv/bin/python bench/storage.py                   # both workloads, lean on and off, PostgreSQL and SQLite
    .venv/bin/python bench/storage.py --spans 3072      # a smaller run
    .venv/bin/python bench/storage.py --only pg --workload openinference --lean on
    .venv/bin/python bench/storage.py --explore         # also: toast_tuple_target, zstd with/without dictionary

Two workloads of the same shape and the same content: six-span agent traces (root agent, retriever with three
documents, a chat rewriting the question, a chat calling a tool, the tool, a final chat with the tool's result),
sent once in the OpenInference convention (flattened ``llm.input_messages.*`` and the request/response JSON in
``input.value``/``output.value``, as openinference-instrumentation-openai sends them; ~4.2 KB of OTLP a span) and
once in the OTel GenAI convention (``gen_ai.input.messages``/``gen_ai.output.messages`` JSON, retriever documents
as OpenInference keys since GenAI has none). Bodies of 512 spans are built with the opentelemetry.proto classes,
decoded by traces.otlp.decode_traces_request and stored by traces.services.spans_ingest in-process: the row path
of POST /v1/traces without HTTP (what is measured is the rows, not the transport).

Each (database, workload, lean on/off) runs in a subprocess against a fresh database (PostgreSQL:
``peekr_bench_storage``, dropped and created; SQLite: a temporary file) migrated from scratch, then prints bytes per
span: on PostgreSQL the span partitions' heap, TOAST (with its index) and indexes (spans are partitioned weekly:
the partitions are summed, the parent has no storage), the trace table, and the whole database's growth over
the empty migrated one; on SQLite the database file after a checkpoint. It prints figures, never asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue  # noqa: E402
from opentelemetry.proto.resource.v1.resource_pb2 import Resource  # noqa: E402
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status  # noqa: E402

from bench.ingest import otlp_bodies, paragraph  # noqa: E402  (the same vocabulary as the ingest benchmark)

PG_URL = "postgres://postgres@127.0.0.1:5432/peekr_bench_storage"
SPANS_PER_REQUEST = 512
SPANS_PER_TRACE = 6
MODEL, RESPONSE_MODEL = "gpt-4o-mini", "gpt-4o-mini-2024-07-18"


def kv(key: str, value) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


# ---------------------------------------------------------------------------------------------------------------
# One trace's content, then its spans in either convention


def content(rng: random.Random, pool: list[str]) -> dict:
    question = rng.choice(pool)[: rng.randint(60, 140)] + "?"
    docs = [(f"kb-{rng.randint(100, 999)}", rng.choice(pool)[: rng.randint(600, 1000)]) for _ in range(3)]
    history = [("user", rng.choice(pool)[:200]), ("assistant", rng.choice(pool)[:300])][: rng.randint(0, 2)]
    return {
        "question": question,
        "rewritten": rng.choice(pool)[: rng.randint(60, 120)],
        "answer": rng.choice(pool)[: rng.randint(300, 600)],
        "docs": docs,
        "scores": [round(rng.uniform(0.5, 0.95), 4) for _ in docs],
        "system": "Answer from the documentation excerpts below.\n\n" + "\n\n".join(d for _, d in docs),
        "history": history,
        "tool_result": rng.choice(pool)[: rng.randint(300, 600)],
        "session": f"sess-{rng.getrandbits(32):08x}",
        "user": f"user-{rng.randint(1, 5000)}",
        "ids": [f"chatcmpl-{rng.getrandbits(96):024x}" for _ in range(3)],
        "call_id": f"call_{rng.getrandbits(96):024x}",
    }


TOOL_SCHEMA = {
    "type": "function",
    "function": {
        "name": "search_docs",
        "description": "Search the product documentation.",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
    },
}


def _span(name, kind, attributes, status=0):
    return Span(name=name, kind=kind, attributes=attributes, status=Status(code=status))


def _oi_messages(prefix: str, messages: list[dict]) -> list:
    out = []
    for i, m in enumerate(messages):
        out.append(kv(f"{prefix}.{i}.message.role", m["role"]))
        if m.get("content"):
            out.append(kv(f"{prefix}.{i}.message.content", m["content"]))
        if m.get("tool_call_id"):
            out.append(kv(f"{prefix}.{i}.message.tool_call_id", m["tool_call_id"]))
        for j, call in enumerate(m.get("tool_calls") or ()):
            base = f"{prefix}.{i}.message.tool_calls.{j}.tool_call"
            out += [
                kv(f"{base}.id", call["id"]),
                kv(f"{base}.function.name", call["function"]["name"]),
                kv(f"{base}.function.arguments", call["function"]["arguments"]),
            ]
    return out


def _oi_chat(c: dict, n: int, messages: list[dict], reply: dict, tools: bool) -> Span:
    """An LLM span as openinference-instrumentation-openai sends it (see tests/fixtures/otlp/openinference__*)."""
    request = {"model": MODEL, "messages": messages, "temperature": 0.2, **({"tools": [TOOL_SCHEMA]} if tools else {})}
    prompt_tokens, completion_tokens = len(json.dumps(messages)) // 4, len(json.dumps(reply)) // 4
    response = {
        "id": c["ids"][n],
        "choices": [
            {
                "finish_reason": "tool_calls" if reply.get("tool_calls") else "stop",
                "index": 0,
                "logprobs": None,
                "message": {"content": reply.get("content"), "refusal": None, "role": "assistant", **reply},
            }
        ],
        "created": 1764979200,
        "model": RESPONSE_MODEL,
        "object": "chat.completion",
        "usage": {
            "completion_tokens": completion_tokens,
            "prompt_tokens": prompt_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }
    attrs = [
        kv("openinference.span.kind", "LLM"),
        kv("llm.system", "openai"),
        kv("llm.provider", "openai"),
        kv("input.value", json.dumps(request)),
        kv("input.mime_type", "application/json"),
        kv("output.value", json.dumps(response, separators=(",", ":"))),
        kv("output.mime_type", "application/json"),
        kv("session.id", c["session"]),
        kv("user.id", c["user"]),
        kv("llm.invocation_parameters", json.dumps({"model": MODEL, "temperature": 0.2})),
        *([kv("llm.tools.0.tool.json_schema", json.dumps(TOOL_SCHEMA))] if tools else []),
        *_oi_messages("llm.input_messages", messages),
        kv("llm.model_name", RESPONSE_MODEL),
        kv("llm.token_count.prompt", prompt_tokens),
        kv("llm.token_count.completion", completion_tokens),
        kv("llm.token_count.total", prompt_tokens + completion_tokens),
        *_oi_messages("llm.output_messages", [{"role": "assistant", **reply}]),
    ]
    return _span("ChatCompletion", Span.SPAN_KIND_INTERNAL, attrs)


def _openai_messages(c: dict) -> tuple[list, list, list, dict]:
    base = [{"role": "system", "content": c["system"]}]
    base += [{"role": r, "content": t} for r, t in c["history"]]
    base.append({"role": "user", "content": c["question"]})
    arguments = json.dumps({"query": c["rewritten"][:40]})
    call = {"id": c["call_id"], "type": "function", "function": {"name": "search_docs", "arguments": arguments}}
    final = [
        *base,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "content": c["tool_result"], "tool_call_id": c["call_id"]},
    ]
    draft = [
        {"role": "system", "content": "Rewrite the question for a documentation search."},
        {"role": "user", "content": c["question"]},
    ]
    return draft, base, final, call


def openinference_trace(c: dict) -> list[Span]:
    session = [kv("session.id", c["session"]), kv("user.id", c["user"])]
    root = _span(
        "agent.run",
        Span.SPAN_KIND_INTERNAL,
        [
            kv("openinference.span.kind", "AGENT"),
            kv("input.value", c["question"]),
            kv("input.mime_type", "text/plain"),
            kv("output.value", c["answer"]),
            kv("output.mime_type", "text/plain"),
            *session,
        ],
    )
    documents = []
    for i, ((doc_id, doc), score) in enumerate(zip(c["docs"], c["scores"], strict=True)):
        documents += [
            kv(f"retrieval.documents.{i}.document.id", doc_id),
            kv(f"retrieval.documents.{i}.document.content", doc),
            kv(f"retrieval.documents.{i}.document.score", score),
        ]
    retriever = _span(
        "retrieve",
        Span.SPAN_KIND_INTERNAL,
        [kv("openinference.span.kind", "RETRIEVER"), kv("input.value", c["question"]), *session, *documents],
    )
    draft, base, final, call = _openai_messages(c)
    tool = _span(
        "search_docs",
        Span.SPAN_KIND_INTERNAL,
        [
            kv("openinference.span.kind", "TOOL"),
            kv("tool.name", "search_docs"),
            kv("tool.description", TOOL_SCHEMA["function"]["description"]),
            kv("tool.parameters", json.dumps(TOOL_SCHEMA["function"]["parameters"])),
            kv("input.value", call["function"]["arguments"]),
            kv("input.mime_type", "application/json"),
            kv("tool_call.id", c["call_id"]),
            kv("output.value", c["tool_result"]),
            kv("output.mime_type", "text/plain"),
            *session,
        ],
    )
    return [
        root,
        retriever,
        _oi_chat(c, 0, draft, {"content": c["rewritten"]}, tools=False),
        _oi_chat(c, 1, base, {"content": None, "tool_calls": [call]}, tools=True),
        tool,
        _oi_chat(c, 2, final, {"content": c["answer"]}, tools=True),
    ]


def _parts(role: str, text: str) -> dict:
    return {"role": role, "parts": [{"type": "text", "content": text}]}


def _genai_chat(c: dict, n: int, messages: list, reply: list, finish: str) -> Span:
    inp = json.dumps(messages, separators=(",", ":"))
    out = json.dumps([{"role": "assistant", "parts": reply, "finish_reason": finish}], separators=(",", ":"))
    return _span(
        f"chat {MODEL}",
        Span.SPAN_KIND_CLIENT,
        [
            kv("gen_ai.operation.name", "chat"),
            kv("gen_ai.provider.name", "openai"),
            kv("gen_ai.request.model", MODEL),
            kv("gen_ai.request.temperature", 0.2),
            kv("gen_ai.response.model", RESPONSE_MODEL),
            kv("gen_ai.response.id", c["ids"][n]),
            kv("gen_ai.response.finish_reasons", finish),
            kv("gen_ai.usage.input_tokens", len(inp) // 4),
            kv("gen_ai.usage.output_tokens", len(out) // 4),
            kv("server.address", "api.openai.com"),
            kv("server.port", 443),
            kv("gen_ai.input.messages", inp),
            kv("gen_ai.output.messages", out),
        ],
    )


def genai_trace(c: dict) -> list[Span]:
    session = [kv("gen_ai.conversation.id", c["session"]), kv("user.id", c["user"])]
    root = _span(
        "invoke_agent docs-agent",
        Span.SPAN_KIND_INTERNAL,
        [
            kv("gen_ai.operation.name", "invoke_agent"),
            kv("gen_ai.agent.name", "docs-agent"),
            kv("gen_ai.input.messages", json.dumps([_parts("user", c["question"])], separators=(",", ":"))),
            kv("gen_ai.output.messages", json.dumps([_parts("assistant", c["answer"])], separators=(",", ":"))),
            *session,
        ],
    )
    documents = []
    for i, ((doc_id, doc), score) in enumerate(zip(c["docs"], c["scores"], strict=True)):
        documents += [
            kv(f"retrieval.documents.{i}.document.id", doc_id),
            kv(f"retrieval.documents.{i}.document.content", doc),
            kv(f"retrieval.documents.{i}.document.score", score),
        ]
    retriever = _span(
        "retrieval docs",
        Span.SPAN_KIND_INTERNAL,
        [kv("gen_ai.operation.name", "retrieval"), kv("input.value", c["question"]), *session, *documents],
    )
    base = [_parts("system", c["system"]), *(_parts(r, t) for r, t in c["history"]), _parts("user", c["question"])]
    arguments = {"query": c["rewritten"][:40]}
    call = {"type": "tool_call", "id": c["call_id"], "name": "search_docs", "arguments": arguments}
    final = [
        *base,
        {"role": "assistant", "parts": [call]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": c["call_id"], "response": c["tool_result"]}]},
    ]
    draft = [_parts("system", "Rewrite the question for a documentation search."), _parts("user", c["question"])]
    tool = _span(
        "execute_tool search_docs",
        Span.SPAN_KIND_INTERNAL,
        [
            kv("gen_ai.operation.name", "execute_tool"),
            kv("gen_ai.tool.name", "search_docs"),
            kv("gen_ai.tool.call.id", c["call_id"]),
            kv("gen_ai.tool.call.arguments", json.dumps(arguments)),
            kv("gen_ai.tool.call.result", c["tool_result"]),
            *session,
        ],
    )
    return [
        root,
        retriever,
        _genai_chat(c, 0, draft, [{"type": "text", "content": c["rewritten"]}], "stop"),
        _genai_chat(c, 1, base, [call], "tool_calls"),
        tool,
        _genai_chat(c, 2, final, [{"type": "text", "content": c["answer"]}], "stop"),
    ]


WORKLOADS = {"openinference": openinference_trace, "genai": genai_trace}


def bodies(workload: str, n_spans: int, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    pool = [paragraph(rng, 1200) for _ in range(400)]
    build = WORKLOADS[workload]
    spans: list[Span] = []
    now = time.time_ns()
    for t in range(-(-n_spans // SPANS_PER_TRACE)):
        trace = build(content(rng, pool))
        trace_id = rng.getrandbits(128).to_bytes(16, "big")
        start = now - 3_600 * 10**9 + t * 10**8
        root = trace[0]
        root.trace_id, root.span_id, root.start_time_unix_nano = trace_id, rng.getrandbits(64).to_bytes(8, "big"), start
        at = start
        for child in trace[1:]:
            child.trace_id, child.span_id, child.parent_span_id = (
                trace_id,
                rng.getrandbits(64).to_bytes(8, "big"),
                root.span_id,
            )
            child.start_time_unix_nano = at + 1_000_000
            at += rng.randint(50, 1500) * 1_000_000
            child.end_time_unix_nano = at
        root.end_time_unix_nano = at + 1_000_000
        spans += trace
    resource = Resource(attributes=[kv("service.name", "bench-app"), kv("telemetry.sdk.language", "python")])
    scope = InstrumentationScope(name="bench", version="1.0")
    return otlp_bodies(spans, resource, scope)


# ---------------------------------------------------------------------------------------------------------------
# One run (in a subprocess: its own Django, its own fresh database)

SPAN_SIZES = """
SELECT coalesce(sum(pg_table_size(c.oid) - coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0)), 0),
       coalesce(sum(coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0)), 0),
       coalesce(sum((SELECT sum(pg_relation_size(x.indexrelid)) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                     WHERE x.indrelid = c.oid AND i.relname NOT LIKE '%%search%%')), 0),
       coalesce(sum((SELECT sum(pg_relation_size(x.indexrelid)) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                     WHERE x.indrelid = c.oid AND i.relname LIKE '%%search%%')), 0)
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'traces_span'::regclass
"""


def _recreate_pg(url: str) -> None:
    import psycopg

    parsed = urllib.parse.urlparse(url)
    name = parsed.path.lstrip("/")
    if not name.startswith("peekr_bench"):
        sys.exit(f"refusing to recreate {name!r}: only databases named peekr_bench*")
    with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _migrate(call_command) -> None:
    """Migrate from scratch; when a later migration of another piece of work fails, migrate up to this one's
    (traces 0014) and every other app, and say so."""
    from django.apps import apps
    from django.db import DatabaseError, connection

    try:
        call_command("migrate", verbosity=0)
        return
    except DatabaseError as exc:
        print(
            f"warning: full migrate failed ({str(exc).splitlines()[0]}); migrating up to traces 0014", file=sys.stderr
        )
    connection.close()
    if connection.vendor == "postgresql":
        _recreate_pg(os.environ["PEEKR_DATABASE_URL"])
    else:
        Path(connection.settings_dict["NAME"]).unlink()
    call_command("migrate", "traces", "0014_lean_storage", verbosity=0)
    for config in apps.get_app_configs():
        if config.label != "traces" and Path(config.path, "migrations").is_dir():
            call_command("migrate", config.label, verbosity=0)


def run_one(db: str, workload: str, n_spans: int, explore: bool) -> dict:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    _migrate(call_command)
    from traces import otlp
    from traces.services import project_create, spans_ingest

    project, _ = project_create(name="storage-bench")
    payload = bodies(workload, n_spans)
    otlp_bytes = sum(len(b) for b in payload)
    if db == "pg":
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
            cursor.execute("SELECT pg_database_size(current_database())")
            empty = cursor.fetchone()[0]
    started, cpu = time.perf_counter(), time.process_time()
    n = 0
    for body in payload:
        raws, errors = otlp.decode_traces_request(body, otlp.PROTOBUF)
        assert not errors, errors[:3]
        n += spans_ingest(project=project, raws=raws).accepted
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    out = {"db": db, "workload": workload, "spans": n, "otlp_per_span": otlp_bytes / n, "ingest_s": seconds}
    out["ingest_cpu_ms_per_span"] = cpu * 1000 / n  # this process only (decode, normalise, split), not the server
    if db == "pg":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE traces_span")  # sets the visibility map: the same state for both runs
            cursor.execute("CHECKPOINT")
            cursor.execute(SPAN_SIZES)
            heap, toast, indexes, search = cursor.fetchone()
            cursor.execute("SELECT pg_total_relation_size('traces_trace'), pg_database_size(current_database())")
            traces, total = cursor.fetchone()
        heap, toast, indexes, search = int(heap), int(toast), int(indexes), int(search)
        out.update(heap=heap / n, toast=toast / n, indexes=indexes / n, search=search / n, traces=traces / n)
        out["database"] = (total - empty) / n
        if explore:
            out["explore"] = explore_pg(connection, n)
    else:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        path = Path(connection.settings_dict["NAME"])
        files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
        out["file"] = sum(p.stat().st_size for p in files if p.exists()) / n
        if explore:
            out["explore"] = explore_values(n)
    return out


def explore_values(n: int) -> dict:
    """What application-level compression of a span's large values would save (zstd, with and without a
    dictionary trained on the first 1,000 spans), against the bytes as they are."""
    import zstandard

    from traces.models import Span
    from traces.services import dump_json

    cols = ["attributes", "events", "lean", "input_messages", "output_messages", "documents"]
    texts = ["input_text", "output_text", "tool_arguments", "tool_result"]
    blobs = []
    for row in Span.objects.values(*cols, *texts).iterator(chunk_size=2000):
        blobs.append(
            "\x1e".join([dump_json(row[c]) for c in cols] + [row[t] for t in texts]).encode()
        )  # one blob a span, as an application-level codec would store it
    raw = sum(len(b) for b in blobs)
    plain = zstandard.ZstdCompressor(level=3)
    z3 = sum(len(plain.compress(b)) for b in blobs)
    trained = zstandard.train_dictionary(64 * 1024, blobs[:1000])
    with_dict = zstandard.ZstdCompressor(level=3, dict_data=trained)
    zd = sum(len(with_dict.compress(b)) for b in blobs)
    return {
        "content_raw": raw / n,
        "zstd3": z3 / n,
        "zstd3_dict64k": zd / n,
        "dict_bytes": len(trained.as_bytes()),
    }


def explore_pg(connection, n: int) -> dict:
    """toast_tuple_target: rows above it are compressed (and moved out) sooner; what a rewrite with 256 saves."""
    found = explore_values(n)
    with connection.cursor() as cursor:
        cursor.execute("SELECT sum(pg_column_size(s.*)) FROM traces_span s")
        found["row_datum"] = int(cursor.fetchone()[0]) / n
        cursor.execute(
            "SELECT i.inhrelid::regclass::text FROM pg_inherits i WHERE i.inhparent = 'traces_span'::regclass"
        )
        parts = [r[0] for r in cursor.fetchall()]
        cursor.execute("SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname LIKE 'span_model%%'")
        found["span_model_scans"] = sum(r[0] or 0 for r in cursor.fetchall())
        cursor.execute("SET default_toast_compression = lz4")
        for target in (2032, 512, 256, 128):
            for part in parts:
                cursor.execute(f"ALTER TABLE {part} SET (toast_tuple_target = {target})")
                cursor.execute(f"VACUUM FULL {part}")
            cursor.execute("CHECKPOINT")
            cursor.execute(SPAN_SIZES)
            heap, toast, indexes, search = map(int, cursor.fetchone())
            found[f"toast_tuple_target_{target}"] = {"heap": heap / n, "toast": toast / n, "indexes": indexes / n}
    return found


# ---------------------------------------------------------------------------------------------------------------


def child(args) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "peekr_web.settings"
    print("RESULT " + json.dumps(run_one(args.db, args.workload, args.spans, args.explore)), flush=True)


def launch(db: str, workload: str, lean: bool, spans: int, explore: bool) -> dict:
    data = tempfile.mkdtemp(prefix="peekr-bench-storage-")
    env = {**os.environ, "PEEKR_DATA_DIR": data, "PEEKR_LEAN_STORAGE": "1" if lean else "0"}
    env.pop("PEEKR_BROKER_URL", None)  # the filesystem broker in the temporary directory: nothing is consumed
    if db == "pg":
        env["PEEKR_DATABASE_URL"] = os.environ.get("PEEKR_BENCH_STORAGE_URL", PG_URL)
        _recreate_pg(env["PEEKR_DATABASE_URL"])
    else:
        env.pop("PEEKR_DATABASE_URL", None)
    cmd = [sys.executable, __file__, "--child", "--db", db, "--workload", workload, "--spans", str(spans)]
    if explore:
        cmd.append("--explore")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return {**json.loads(line[7:]), "lean": lean}
    sys.exit(f"run failed ({db} {workload} lean={lean}):\n{proc.stdout}\n{proc.stderr}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spans", type=int, default=6144)
    parser.add_argument("--only", choices=["pg", "sqlite"])
    parser.add_argument("--workload", choices=sorted(WORKLOADS))
    parser.add_argument("--lean", choices=["on", "off"])
    parser.add_argument("--explore", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db", default="pg", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    dbs = [args.only] if args.only else ["pg", "sqlite"]
    workloads = [args.workload] if args.workload else ["openinference", "genai"]
    leans = [args.lean == "on"] if args.lean else [False, True]
    print(f"{args.spans} spans a run, six-span traces, bodies of {SPANS_PER_REQUEST}; bytes per span")
    for db in dbs:
        for workload in workloads:
            for lean in leans:
                r = launch(db, workload, lean, args.spans, args.explore)
                head = f"{db:6s} {workload:13s} lean={'on ' if lean else 'off'} otlp={r['otlp_per_span']:,.0f}"
                if db == "pg":
                    print(
                        f"{head}  heap={r['heap']:,.0f} toast={r['toast']:,.0f} indexes={r['indexes']:,.0f}"
                        f"  spans={r['heap'] + r['toast'] + r['indexes']:,.0f}  search index={r['search']:,.0f}"
                        f"  traces={r['traces']:,.0f}"
                        f"  database growth={r['database']:,.0f}"
                        f"  (ingest {r['ingest_s']:.1f} s, {r['ingest_cpu_ms_per_span']:.3f} ms CPU a span)"
                    )
                else:
                    print(
                        f"{head}  file={r['file']:,.0f}"
                        f"  (ingest {r['ingest_s']:.1f} s, {r['ingest_cpu_ms_per_span']:.3f} ms CPU a span)"
                    )
                if "explore" in r:
                    print("    " + json.dumps(r["explore"]))


if __name__ == "__main__":
    main()
