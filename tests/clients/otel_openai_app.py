"""A small RAG app instrumented the way users do it: the OpenTelemetry SDK with the OTLP/HTTP exporter and
OpenInference's OpenAI instrumentation, talking to an OpenAI-compatible server. Run as its own process.

env: PEEKR_ENDPOINT, PEEKR_KEY, OPENAI_BASE_URL
"""

import os

from openai import OpenAI
from openinference.instrumentation.openai import OpenAIInstrumentor
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

provider = TracerProvider(resource=Resource.create({"service.name": "rag-app", "service.version": "2.3.0"}))
provider.add_span_processor(
    BatchSpanProcessor(
        OTLPSpanExporter(
            endpoint=f"{os.environ['PEEKR_ENDPOINT']}/v1/traces",
            headers={"Authorization": f"Bearer {os.environ['PEEKR_KEY']}"},
        )
    )
)
trace.set_tracer_provider(provider)
OpenAIInstrumentor().instrument(tracer_provider=provider)
tracer = trace.get_tracer("rag-app")
client = OpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key="test-key", max_retries=0)

DOCS = [("kb-1", "Paris is the capital and largest city of France.", 0.92), ("kb-2", "France is in Europe.", 0.71)]

question = "What is the capital of France?"
with tracer.start_as_current_span(
    "rag.answer",
    attributes={
        "openinference.span.kind": "CHAIN",
        "input.value": question,
        "session.id": "sess-42",
        "user.id": "user-7",
    },
) as root:
    with tracer.start_as_current_span(
        "retrieve", attributes={"openinference.span.kind": "RETRIEVER", "input.value": question}
    ) as ret:
        for i, (doc_id, content, score) in enumerate(DOCS):
            ret.set_attribute(f"retrieval.documents.{i}.document.id", doc_id)
            ret.set_attribute(f"retrieval.documents.{i}.document.content", content)
            ret.set_attribute(f"retrieval.documents.{i}.document.score", score)
    context = "\n".join(d[1] for d in DOCS)
    answer = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            {"role": "system", "content": f"Answer from the context.\n{context}"},
            {"role": "user", "content": question},
        ],
    )
    root.set_attribute("output.value", answer.choices[0].message.content)
provider.force_flush()
provider.shutdown()
print(format(root.get_span_context().trace_id, "032x"))
