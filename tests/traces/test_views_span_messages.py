"""The span panel's Messages tab as people read it: both sides shown, markdown rendered safely, JSON as trees,
copy buttons, images as thumbnails. (The renderer itself: tests/traces/test_render.py.)"""

import re
import time

import pytest
from django.urls import reverse

from tests.base import hex_id, make_raw_span
from traces.models import Span
from traces.services import spans_ingest

HTMX = {"HX-Request": "true", "HX-Target": "span-panel"}


def panel(client, project, span) -> str:
    url = reverse("traces:span_detail", args=[project.pk, span.trace.trace_id, span.span_id])
    response = client.get(url, headers=HTMX)
    assert response.status_code == 200
    return response.content.decode()


def messages_pane(html: str) -> str:
    return html.split('data-pane="messages"', 1)[1].split("</section>", 1)[0]


@pytest.fixture
def llm_span(project):
    """An LLM span whose input is a plain string (OpenInference input.value) and whose output is a message."""
    raw = make_raw_span(
        trace_id=hex_id(16),
        name="llm",
        kind=3,
        start=time.time() - 10,
        duration=1.0,
        attributes={
            "openinference.span.kind": "LLM",
            "llm.model_name": "gpt-4o-mini",
            "input.value": "What is the capital of France?",
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.content": "**Paris**.\n\n```python\nprint('Paris')\n```",
        },
    )
    spans_ingest(project=project, raws=[raw])
    return Span.objects.get(span_id=raw.span_id)


def test_a_plain_string_input_is_shown_next_to_the_output_messages(owner_client, project, llm_span):
    assert llm_span.input_text == "What is the capital of France?" and not llm_span.input_messages
    assert llm_span.output_messages
    pane = messages_pane(panel(owner_client, project, llm_span))
    assert pane.index(">Input<") < pane.index("What is the capital of France?") < pane.index(">Output<")
    assert "<strong>Paris</strong>" in pane


def test_code_blocks_are_highlighted_and_each_message_has_a_copy_button(owner_client, project, llm_span):
    pane = messages_pane(panel(owner_client, project, llm_span))
    assert '<pre class="hl"><code class="language-python"><span class="nb">print</span>' in pane
    copies = re.findall(r'class="copy msg-copy" data-copy data-copy-text="([^"]*)"', pane)
    assert copies[0] == "What is the capital of France?"
    assert copies[1].startswith("**Paris**.")


def test_html_in_a_message_is_inert(owner_client, project, llm_span):
    Span.objects.filter(pk=llm_span.pk).update(
        output_messages=[
            {
                "role": "assistant",
                "content": "<script>alert(1)</script> <img src=x onerror=alert(2)> [x](javascript:alert(3))",
            }
        ]
    )
    pane = messages_pane(panel(owner_client, project, llm_span))
    assert "<script>alert(1)" not in pane and "<img src=x" not in pane and 'href="javascript:' not in pane
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pane


def test_images_given_as_parts_are_thumbnails_and_other_data_uris_are_not(owner_client, project, llm_span):
    png = "data:image/png;base64,iVBORw0KGgo="
    Span.objects.filter(pk=llm_span.pk).update(
        input_messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in these?"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
                    {"type": "image_url", "image_url": {"url": png}},
                    {"type": "image_url", "image_url": {"url": "data:text/html;base64,PHNjcmlwdD4="}},
                    {"type": "image_url", "image_url": {"url": "javascript:alert(1)"}},
                ],
            }
        ]
    )
    pane = messages_pane(panel(owner_client, project, llm_span))
    assert re.findall(r'<img src="([^"]*)"', pane) == ["https://example.com/cat.png", png]
    assert "javascript:" not in pane.replace("&quot;javascript:alert(1)&quot;", "")  # only as JSON text
    assert 'src="data:text/html' not in pane


def test_a_long_message_starts_folded_with_show_all(owner_client, project, llm_span):
    Span.objects.filter(pk=llm_span.pk).update(input_text="line\n" * 100)
    pane = messages_pane(panel(owner_client, project, llm_span))
    assert pane.count('class="fold"') == 1
    assert "Show all" in pane


def test_tool_arguments_and_results_are_trees_with_copy(owner_client, project, llm_span):
    Span.objects.filter(pk=llm_span.pk).update(
        tool_name="get_weather", tool_arguments='{"city": "Paris"}', tool_result='{"temp": 21}'
    )
    html = panel(owner_client, project, llm_span)
    tool = html.split('data-pane="tool"', 1)[1].split("</section>", 1)[0]
    assert 'data-copy-text="{\n  &quot;city&quot;: &quot;Paris&quot;\n}"' in tool
    assert '<span class="jk">temp</span>: <span class="jv jnum">21</span>' in tool
    assert tool.count('<ul class="jtree">') == 2
