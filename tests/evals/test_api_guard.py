import pytest


def guard(client, key, **body):
    return client.post("/api/v1/guard", data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")


@pytest.mark.django_db
def test_a_clean_answer_passes(client, project, api_key):
    resp = guard(client, api_key, output="Your order ships on Monday.")
    assert resp.status_code == 200
    assert resp.json()["action"] == "pass" and resp.json()["reasons"] == []


@pytest.mark.django_db
def test_pii_in_the_output_is_blocked_with_the_reason(client, project, api_key):
    resp = guard(client, api_key, output="Sure! Card 4111 1111 1111 1111, mail jane.doe@example.com")
    data = resp.json()
    assert data["action"] == "block"
    assert any(r.startswith("pii") for r in data["reasons"])
    assert "4111 1111 1111 1111" not in resp.content.decode()  # reasons never echo the PII itself


@pytest.mark.django_db
def test_broken_json_is_blocked_when_json_was_promised(client, project, api_key):
    data = guard(client, api_key, output='{"answer": "yes", ').json()
    assert data["action"] == "block"
    assert any(r.startswith("json_valid") for r in data["reasons"])


def test_it_needs_a_key(client, db):
    assert guard(client, "nope", output="x").status_code == 401
