"""An app instrumented with the Peekr SDK exactly as its README says, pointed at this server. Own process.

env: PEEKR_ENDPOINT, PEEKR_KEY, OPENAI_BASE_URL
"""

import os

import peekr
from openai import OpenAI

exporter = peekr.HTTPExporter(endpoint=os.environ["PEEKR_ENDPOINT"], api_key=os.environ["PEEKR_KEY"])
peekr.instrument(exporter=exporter, console=False, compliance=[])
client = OpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key="test-key", max_retries=0)


@peekr.trace(name="support.answer")
def answer(question: str) -> str:
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": question}])
    return reply.choices[0].message.content


with peekr.session(session_id="sess-sdk", user_id="user-sdk"):
    print(answer("What is the capital of France?"))
exporter.shutdown()
