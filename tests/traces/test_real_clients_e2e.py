"""Real clients, real server: the OpenTelemetry SDK + OpenInference's OpenAI instrumentation, and the Peekr SDK,
each in its own process, calling a local OpenAI-compatible server and exporting to Peekr over HTTP."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.base import user_token
from tests.fake_openai import FakeOpenAI
from traces.models import Span, Trace

CLIENTS = Path(__file__).resolve().parents[1] / "clients"


def run_client(script: str, live_server, key: str, fake: FakeOpenAI) -> str:
    env = {"PEEKR_ENDPOINT": live_server.url, "PEEKR_KEY": key, "OPENAI_BASE_URL": fake.base_url, "PATH": ""}
    done = subprocess.run([sys.executable, str(CLIENTS / script)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "dropped" not in done.stderr, done.stderr  # the exporters log what the server refused
    return done.stdout.strip()


@pytest.mark.django_db(transaction=True)
def test_the_otel_sdk_with_an_openai_instrumentation_lands_with_the_right_fields(live_server, project, api_key):
    with FakeOpenAI(answer="Paris is the capital of France.") as fake:
        trace_id = run_client("otel_openai_app.py", live_server, api_key, fake)

    trace = Trace.objects.get(project=project, trace_id=trace_id)
    spans = {s.kind: s for s in Span.objects.filter(trace=trace)}
    assert set(spans) == {"chain", "retriever", "llm"}
    llm = spans["llm"]
    assert llm.model == "gpt-4o-mini"
    assert llm.provider == "openai"
    assert (llm.input_tokens, llm.output_tokens, llm.total_tokens) == (42, 17, 59)
    assert [m["role"] for m in llm.input_messages] == ["system", "user"]
    assert llm.input_text == "What is the capital of France?"
    assert llm.output_text == "Paris is the capital of France."
    assert llm.cost and llm.cost > 0
    docs = spans["retriever"].documents
    assert [(d["id"], d["score"]) for d in docs] == [("kb-1", 0.92), ("kb-2", 0.71)]
    assert docs[0]["content"].startswith("Paris is the capital")
    assert trace.name == "rag.answer"
    assert trace.session_id == "sess-42" and trace.user_id == user_token(project, "user-7")
    assert trace.service_name == "rag-app"
    assert trace.total_tokens == 59


@pytest.mark.django_db(transaction=True)
def test_the_peekr_sdk_http_exporter_is_a_drop_in(live_server, project, api_key):
    with FakeOpenAI(answer="Paris.") as fake:
        printed = run_client("peekr_sdk_app.py", live_server, api_key, fake)
    assert printed == "Paris."

    spans = list(Span.objects.filter(project=project).order_by("start_time"))
    assert [s.source for s in spans] == ["peekr"] * len(spans)
    root = next(s for s in spans if s.name == "support.answer")
    llm = next(s for s in spans if s.kind == "llm")
    assert llm.parent_span_id == root.span_id
    assert llm.model == "gpt-4o-mini"
    assert (llm.input_tokens, llm.output_tokens) == (42, 17)
    assert "capital of France" in llm.input_text
    assert llm.output_text == "Paris."
    assert llm.session_id == "sess-sdk" and llm.user_id == user_token(project, "user-sdk")
    trace = root.trace
    assert trace.name == "support.answer" and trace.root_ended
    assert trace.session_id == "sess-sdk"
