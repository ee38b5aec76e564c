"""The Langfuse Python SDK (5.x) as its users write it, pointed at Peekr by host and key only: manual
observations (a span, a generation inside it, trace attributes propagated) and the langfuse.openai drop-in,
talking to an OpenAI-compatible server. Run as its own process; prints the two trace ids.

env: PEEKR_ENDPOINT, PEEKR_PUBLIC_KEY, PEEKR_KEY, OPENAI_BASE_URL
"""

import os

from langfuse import Langfuse, propagate_attributes
from langfuse.openai import OpenAI

langfuse = Langfuse(
    public_key=os.environ["PEEKR_PUBLIC_KEY"],
    secret_key=os.environ["PEEKR_KEY"],
    base_url=os.environ["PEEKR_ENDPOINT"],
    tracing_enabled=True,
)

question = "What is the capital of France?"
with langfuse.start_as_current_observation(as_type="span", name="support.answer", input={"question": question}) as root:
    with propagate_attributes(user_id="user-lf", session_id="sess-lf", tags=["drop-in"], version="1.4.0"):
        with langfuse.start_as_current_observation(
            as_type="generation",
            name="answer",
            model="gpt-4o-mini",
            input=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": question}],
            model_parameters={"temperature": 0.0},
        ) as generation:
            generation.update(
                output={"role": "assistant", "content": "Paris."},
                usage_details={"input": 42, "output": 17},
            )
        root.update(output="Paris.")
    manual_trace = langfuse.get_current_trace_id()

client = OpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key="test-key", max_retries=0)
with langfuse.start_as_current_observation(as_type="span", name="openai.dropin") as wrapper:
    answer = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": question}],
        name="chat",
    )
    wrapper.update(output=answer.choices[0].message.content)
    dropin_trace = langfuse.get_current_trace_id()

langfuse.flush()
langfuse.shutdown()
print("trace_id=" + manual_trace)
print("trace_id=" + dropin_trace)
