"""A trace whose root is an HTTP span (POST /v1/answer, no input or output of its own) takes its input from the
first LLM call and its output from the last one, shown in the list's preview and the trace page's header; Peekr's
own judge spans never stand in. Sent with the real OpenTelemetry SDK and OTLP/HTTP exporter."""

import time

import pytest
from django.urls import reverse
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from tests.base import llm_attributes
from traces.models import Trace


def send(live_server, key: str, *, root_attributes: dict) -> str:
    provider = TracerProvider(resource=Resource.create({"service.name": "answer-api"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(
        endpoint=f"{live_server.url}/v1/traces", headers={"Authorization": f"Bearer {key}"})))  # fmt: skip
    tracer = provider.get_tracer("answer-api")
    with tracer.start_as_current_span("POST /v1/answer", kind=SpanKind.SERVER, attributes=root_attributes) as root:
        for prompt, answer in (("Which city is the capital of France?", "Draft: Paris."),
                               ("Check the draft and answer in one word.", "Paris")):  # fmt: skip
            with tracer.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT,
                                              attributes=llm_attributes(prompt=prompt, answer=answer)):  # fmt: skip
                time.sleep(0.01)
        # Peekr's judge call, inline in the app (the SDK marks it internal): last, and never the trace's output.
        with tracer.start_as_current_span("chat judge", kind=SpanKind.CLIENT,
                                          attributes={**llm_attributes(prompt="Rate this answer", answer="score: 1"),
                                                      "peekr.internal": True}):  # fmt: skip
            time.sleep(0.01)
        trace_id = format(root.get_span_context().trace_id, "032x")
    provider.shutdown()
    return trace_id


@pytest.mark.django_db(transaction=True)
def test_an_http_root_takes_the_first_llm_input_and_the_last_llm_output(live_server, project, api_key, client, owner):
    trace_id = send(live_server, api_key, root_attributes={"http.request.method": "POST", "http.route": "/v1/answer"})
    trace = Trace.objects.get(project=project, trace_id=trace_id)
    assert trace.name == "POST /v1/answer"
    assert trace.input_preview == "Which city is the capital of France?"
    assert trace.output_preview == "Paris"

    client.force_login(owner)
    listing = client.get(reverse("traces:trace_list", args=[project.pk])).content.decode()
    assert "Which city is the capital of France?" in listing and "→ Paris" in listing
    assert "Rate this answer" not in listing and "score: 1" not in listing
    page = client.get(reverse("traces:trace_detail", args=[project.pk, trace_id])).content.decode()
    head = page.split('class="trace-head"', 1)[1].split("</dl>\n", 2)[1]  # the header's input/output block
    assert 'class="trace-io-in"' in head and "Which city is the capital of France?" in head
    assert 'class="trace-io-out"' in head and ">Paris<" in head


@pytest.mark.django_db(transaction=True)
def test_a_root_with_its_own_input_and_output_keeps_them(live_server, project, api_key):
    trace_id = send(live_server, api_key, root_attributes={"input.value": "What's the capital?",
                                                           "output.value": "It is Paris."})  # fmt: skip
    trace = Trace.objects.get(project=project, trace_id=trace_id)
    assert (trace.input_preview, trace.output_preview) == ("What's the capital?", "It is Paris.")
