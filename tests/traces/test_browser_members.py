"""The Members page in headless Chromium: an owner invites a reviewer by link, the invitee signs up through it and
lands on the review queues (not the explorer), the owner changes the role and cannot remove the last owner."""

import os

import pytest

from tests.browser import browser_page, screenshot
from traces.models import Membership, Role

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def login(page, base, username, password="pw-for-tests-1"):
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_an_owner_invites_changes_a_role_and_keeps_an_owner(live_server, owner, project, settings):
    settings.PEEKR_PUBLIC_URL = live_server.url
    with browser_page() as page:
        login(page, live_server.url, "owner")
        page.click("nav.tabs-nav a:has-text('Members')")
        assert page.url.endswith(f"/p/{project.pk}/settings/members")
        page.select_option("#invite-form select[name=role]", "reviewer")
        page.click("#invite-form button[type=submit]")
        link = page.inner_text("#invite-link").strip()
        assert "/invite/" in link
        screenshot(page, "members-invite.png")
        page.click("form.logout button")

        page.goto(link)
        page.fill("input[name=username]", "rita")
        page.fill("input[name=password1]", "a-long-pass-9876")
        page.fill("input[name=password2]", "a-long-pass-9876")
        page.click("#signup button[type=submit]")
        assert page.url.endswith(f"/p/{project.pk}/review")  # a reviewer's way in: the queues
        assert page.locator("nav.tabs-nav a:has-text('Traces')").count() == 0
        page.click("form.logout button")

        login(page, live_server.url, "owner")
        page.goto(f"{live_server.url}/p/{project.pk}/settings/members")
        row = page.locator("tr[data-member=rita]")
        row.locator("select[name=role]").select_option("engineer")
        row.locator("button:has-text('Change')").click()
        assert "rita is now engineer" in page.inner_text(".messages")
        page.on("dialog", lambda dialog: dialog.accept())
        page.locator("tr[data-member=owner] button:has-text('Remove')").click()
        assert "keeps at least one owner" in page.inner_text(".messages")
        screenshot(page, "members-last-owner.png")
    roles = dict(Membership.objects.filter(project=project).values_list("user__username", "role"))
    assert roles == {"owner": Role.OWNER, "rita": Role.ENGINEER}
