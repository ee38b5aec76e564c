"""Traceloop's SDK as its users set it up: `Traceloop.init(api_endpoint=PEEKR, api_key=KEY)`, which exports
traces to /v1/traces and GenAI metrics to /v1/metrics, with a workflow around an OpenAI call. Runs from its own
venv (.venv-clients/traceloop: traceloop-sdk pins other OpenTelemetry releases); prints the trace id.

env: PEEKR_ENDPOINT, PEEKR_KEY, OPENAI_BASE_URL
"""

import os

from openai import OpenAI
from opentelemetry import metrics, trace
from traceloop.sdk import Traceloop
from traceloop.sdk.decorators import workflow

Traceloop.init(
    app_name="traceloop-app",
    api_endpoint=os.environ["PEEKR_ENDPOINT"],
    api_key=os.environ["PEEKR_KEY"],
    disable_batch=True,
    telemetry_enabled=False,
)
client = OpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key="test-key", max_retries=0)
trace_ids = []


@workflow(name="ask")
def ask() -> None:
    trace_ids.append(format(trace.get_current_span().get_span_context().trace_id, "032x"))
    client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Capital of France?"}],
    )


ask()
trace.get_tracer_provider().force_flush()
metrics.get_meter_provider().force_flush()
print("trace_id=" + trace_ids[0])
