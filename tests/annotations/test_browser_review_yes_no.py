"""The review page's yes/no key: y / n answer the boolean score, and the answer is stored on submit."""

import os
import re

import pytest

from annotations.models import Annotation
from tests.annotations.test_browser_review import review_setup, wait_for_item  # noqa: F401 (fixture)
from tests.browser import browser_page

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_y_and_n_answer_the_yes_no_score(live_server, review_setup):  # noqa: F811
    s = review_setup
    project, items = s["project"], s["items"]
    errors: list[str] = []
    with browser_page() as page:
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{live_server.url}/login/")
        page.fill("input[name=username]", "rita")
        page.fill("input[name=password]", "pw-for-tests-1")
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(rf"/p/{project.pk}/review$"), wait_until="commit")
        page.goto(f"{live_server.url}/p/{project.pk}/review/items/{items[0].pk}")
        wait_for_item(page, items[0])
        yes, no = "input[name=value__correct][value=yes]", "input[name=value__correct][value=no]"
        assert not page.is_checked(yes) and not page.is_checked(no)
        page.keyboard.press("y")
        assert page.is_checked(yes)
        page.keyboard.press("n")
        assert page.is_checked(no) and not page.is_checked(yes)
        page.keyboard.press("Control+Enter")
        wait_for_item(page, items[1])
    annotation = Annotation.objects.get(item=items[0])
    assert annotation.values.get("correct") is False
    assert errors == []
