"""Every page carries a Content-Security-Policy: scripts from Peekr's own origin only, plus the page's one inline
script, which carries the nonce of that response."""

import re
import time

import pytest

from tests.base import make_trace

pytestmark = pytest.mark.django_db


def test_the_login_page_has_a_strict_script_policy_and_its_inline_script_the_nonce(client):
    response = client.get("/login/")

    policy = dict(d.strip().split(" ", 1) for d in response["Content-Security-Policy"].split(";") if d.strip())
    nonce = re.fullmatch(r"'self' 'nonce-([\w+/=-]+)'", policy["script-src"]).group(1)
    assert policy["default-src"] == "'self'"
    assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert "unsafe-eval" not in response["Content-Security-Policy"]
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", response.content.decode())
    assert inline == [f' nonce="{nonce}"']


def test_each_response_gets_its_own_nonce(client):
    def nonce():
        return re.search(r"'nonce-([^']+)'", client.get("/login/")["Content-Security-Policy"]).group(1)

    assert nonce() != nonce()


def test_a_chart_partial_carries_its_figure_as_data_not_as_a_script(owner_client, project):
    make_trace(project, start=time.time() - 60)

    html = owner_client.get(
        f"/p/{project.pk}/dashboards/chart/traces?range=24h", headers={"HX-Request": "true"}
    ).content.decode()

    assert 'data-figure="figure-traces"' in html
    assert re.findall(r"<script[^>]*>", html) == ['<script id="figure-traces" type="application/json">']
