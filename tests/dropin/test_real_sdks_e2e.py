"""The SDKs teams already run, unchanged but for host and key, each in its own process against a live Peekr
(Django's live server for OTLP/HTTP, the gRPC receiver on a free port) and a local OpenAI-compatible server:
every export answered 2xx / OK, and the trace comes back normalised."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.base import user_token
from tests.fake_openai import FakeOpenAI
from traces.models import ApiKey, MetricPoint, Span, Trace

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = ROOT / "tests" / "clients"
TRACELOOP_PYTHON = ROOT / ".venv-clients" / "traceloop" / "bin" / "python"
# What the exporters log when a server refuses a batch (404, 401, 5xx, a gRPC error).
EXPORT_FAILURES = ("Failed to export", "dropped", "404", "Exception while exporting")


def run_client(argv: list, env: dict, python: str = sys.executable) -> list[str]:
    base = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), "OTEL_PYTHON_LOG_LEVEL": "info"}
    done = subprocess.run([python, *argv], env={**base, **env}, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert not any(f in done.stderr for f in EXPORT_FAILURES), done.stderr
    return [line.removeprefix("trace_id=") for line in done.stdout.splitlines() if line.startswith("trace_id=")]


def assert_llm_span(trace: Trace, *, tokens=(42, 17)) -> Span:
    llm = Span.objects.get(trace=trace, kind="llm")
    assert llm.model.startswith("gpt-4o-mini")
    assert (llm.input_tokens, llm.output_tokens) == tokens
    assert [m["role"] for m in llm.input_messages] == ["system", "user"]
    assert llm.output_text
    return llm


@pytest.mark.django_db(transaction=True)
def test_the_langfuse_sdk_and_its_openai_drop_in(live_server, project, api_key):
    public = ApiKey.objects.get(project=project).public_key
    with FakeOpenAI(answer="Paris.") as fake:
        manual, dropin = run_client(
            [str(CLIENTS / "langfuse_app.py")],
            {
                "PEEKR_ENDPOINT": live_server.url,
                "PEEKR_PUBLIC_KEY": public,
                "PEEKR_KEY": api_key,
                "OPENAI_BASE_URL": fake.base_url,
            },
        )
    trace = Trace.objects.get(project=project, trace_id=manual)
    assert trace.name == "support.answer"
    assert (trace.session_id, trace.user_id, trace.release) == ("sess-lf", user_token(project, "user-lf"), "1.4.0")
    llm = assert_llm_span(trace)
    assert llm.output_text == "Paris." and llm.name == "answer"
    assert llm.cost and llm.cost > 0
    chat = assert_llm_span(Trace.objects.get(project=project, trace_id=dropin))
    assert chat.total_tokens == 59 and chat.input_text == "What is the capital of France?"


@pytest.mark.django_db(transaction=True)
def test_phoenix_register_by_environment_only_exports_over_grpc(live_server, grpc_port, project, api_key):
    with FakeOpenAI(answer="Paris.") as fake:
        (trace_id,) = run_client(
            [str(CLIENTS / "phoenix_app.py"), "env"],
            {
                "PHOENIX_COLLECTOR_ENDPOINT": live_server.url,  # register() swaps in the gRPC port
                "PHOENIX_GRPC_PORT": str(grpc_port),
                "PHOENIX_API_KEY": api_key,
                "OPENAI_BASE_URL": fake.base_url,
            },
        )
    trace = Trace.objects.get(project=project, trace_id=trace_id)
    assert trace.name == "ask"
    assert_llm_span(trace)


@pytest.mark.django_db(transaction=True)
def test_phoenix_register_by_endpoint_exports_over_http(live_server, project, api_key):
    with FakeOpenAI(answer="Paris.") as fake:
        (trace_id,) = run_client(
            [str(CLIENTS / "phoenix_app.py"), "endpoint"],
            {"PEEKR_ENDPOINT": live_server.url, "PEEKR_KEY": api_key, "OPENAI_BASE_URL": fake.base_url},
        )
    assert_llm_span(Trace.objects.get(project=project, trace_id=trace_id))


@pytest.mark.django_db(transaction=True)
def test_the_plain_otel_sdk_with_the_grpc_exporter(grpc_port, project, api_key):
    with FakeOpenAI(answer="Paris.") as fake:
        (trace_id,) = run_client(
            [str(CLIENTS / "otel_grpc_app.py")],
            {
                "PEEKR_GRPC_ENDPOINT": f"http://127.0.0.1:{grpc_port}",
                "PEEKR_KEY": api_key,
                "OPENAI_BASE_URL": fake.base_url,
            },
        )
    trace = Trace.objects.get(project=project, trace_id=trace_id)
    assert trace.service_name == "grpc-app"
    assert_llm_span(trace)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not TRACELOOP_PYTHON.exists(), reason="make test creates .venv-clients/traceloop")
def test_traceloop_traces_and_metrics(live_server, project, api_key):
    with FakeOpenAI(answer="Paris.") as fake:
        (trace_id,) = run_client(
            [str(CLIENTS / "traceloop_app.py")],
            {"PEEKR_ENDPOINT": live_server.url, "PEEKR_KEY": api_key, "OPENAI_BASE_URL": fake.base_url},
            python=str(TRACELOOP_PYTHON),
        )
    trace = Trace.objects.get(project=project, trace_id=trace_id)
    assert trace.name == "ask.workflow"
    assert_llm_span(trace)
    names = set(MetricPoint.objects.filter(project=project).values_list("name", flat=True))
    assert {"gen_ai.client.token.usage", "gen_ai.client.operation.duration"} <= names
    usage = MetricPoint.objects.filter(project=project, name="gen_ai.client.token.usage")
    assert {p.model for p in usage} == {"gpt-4o-mini"}
    assert {p.service_name for p in usage} == {"traceloop-app"}
