"""Arize Phoenix's `phoenix.otel.register` + OpenInference's OpenAI instrumentation, pointed at Peekr: by
environment only (PHOENIX_COLLECTOR_ENDPOINT, PHOENIX_API_KEY: register() then exports OTLP/gRPC to
PHOENIX_GRPC_PORT, 4317 by default) or by endpoint (`register(endpoint=".../v1/traces", api_key=...)`, OTLP/HTTP).
Run as its own process; prints the trace id.

argv: env | endpoint.  env: OPENAI_BASE_URL; PHOENIX_* (env mode) or PEEKR_ENDPOINT, PEEKR_KEY (endpoint mode)
"""

import os
import sys

from openai import OpenAI
from phoenix.otel import register

if sys.argv[1] == "env":
    provider = register(project_name="phoenix-app", batch=False, auto_instrument=True)
else:
    provider = register(
        endpoint=f"{os.environ['PEEKR_ENDPOINT']}/v1/traces",
        api_key=os.environ["PEEKR_KEY"],
        project_name="phoenix-app",
        batch=False,
        auto_instrument=True,
    )
tracer = provider.get_tracer("phoenix-app")
client = OpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key="test-key", max_retries=0)
with tracer.start_as_current_span("ask", attributes={"openinference.span.kind": "CHAIN"}) as root:
    client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Capital of France?"}],
    )
provider.force_flush()
provider.shutdown()
print("trace_id=" + format(root.get_span_context().trace_id, "032x"))
