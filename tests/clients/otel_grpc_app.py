"""The plain OpenTelemetry SDK with the OTLP/gRPC exporter (gzip) and OpenInference's OpenAI instrumentation.
Run as its own process; prints the trace id.

env: PEEKR_GRPC_ENDPOINT (http://host:port), PEEKR_KEY, OPENAI_BASE_URL
"""

import os

from openai import OpenAI
from openinference.instrumentation.openai import OpenAIInstrumentor
from opentelemetry.exporter.otlp.proto.grpc.exporter import Compression
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

provider = TracerProvider(resource=Resource.create({"service.name": "grpc-app"}))
exporter = OTLPSpanExporter(
    endpoint=os.environ["PEEKR_GRPC_ENDPOINT"],
    insecure=True,
    headers={"authorization": f"Bearer {os.environ['PEEKR_KEY']}"},
    compression=Compression.Gzip,
)
provider.add_span_processor(BatchSpanProcessor(exporter))
OpenAIInstrumentor().instrument(tracer_provider=provider)
tracer = provider.get_tracer("grpc-app")
client = OpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key="test-key", max_retries=0)
with tracer.start_as_current_span("ask", attributes={"openinference.span.kind": "CHAIN"}) as root:
    client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Capital of France?"}],
    )
provider.force_flush()
provider.shutdown()
print("trace_id=" + format(root.get_span_context().trace_id, "032x"))
