"""The Privacy page in headless Chromium: an owner switches emails to tokens, a catastrophic custom pattern is
refused with its reason, a good one is saved, and the next trace shows tokens and its redaction counts."""

import os

import pytest

from tests.base import llm_attributes, make_raw_span
from tests.browser import browser_page, screenshot
from traces.models import PrivacySettings
from traces.services import spans_ingest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def login(page, base, username, password="pw-for-tests-1"):
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_an_owner_tokenises_emails_and_adds_a_custom_pattern(live_server, owner, project):
    with browser_page() as page:
        login(page, live_server.url, "owner")
        page.click("nav.tabs-nav a:has-text('Privacy')")
        assert page.url.endswith(f"/p/{project.pk}/settings/privacy")
        assert page.input_value("#id_action_email") == "mask"
        assert page.is_checked("#id_hash_user_id")

        page.select_option("#id_action_email", "tokenise")
        page.fill("#id_custom_patterns", "order_id mask (ORD-[0-9]+)+")
        page.click("#privacy-form button[type=submit]")
        assert "exponential time" in page.inner_text("#privacy-form .errorlist")
        assert PrivacySettings.objects.get(project=project).actions["email"] == "mask"  # nothing saved

        page.fill("#id_custom_patterns", "order_id mask ORD-[0-9]{8}")
        page.click("#privacy-form button[type=submit]")
        assert "Privacy settings saved" in page.inner_text(".messages")
        assert page.input_value("#id_action_email") == "tokenise"
        screenshot(page, "privacy-settings.png")

        root = make_raw_span(name="support answer", attributes={"user.id": "dana"})
        chat = make_raw_span(trace_id=root.trace_id, parent_span_id=root.span_id, name="chat", kind=3,
                             attributes=llm_attributes(answer="Order ORD-12345678 ships to dana@example.com."))  # fmt: skip
        spans_ingest(project=project, raws=[root, chat])
        page.goto(f"{live_server.url}/p/{project.pk}/traces/{root.trace_id}?span={chat.span_id}")
        body = page.inner_text("main")
        assert "dana@example.com" not in body and "ORD-12345678" not in body
        assert "[EMAIL:" in body and "[ORDER_ID]" in body
        assert "1 email, 1 order_id" in page.inner_text(".redactions")
        screenshot(page, "privacy-span-redactions.png")
    settings = PrivacySettings.objects.get(project=project)
    assert settings.actions["email"] == "tokenise"
    assert settings.custom_patterns == [{"name": "order_id", "pattern": "ORD-[0-9]{8}", "action": "mask"}]
