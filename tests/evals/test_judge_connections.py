"""A judge endpoint and its key travel together: the operator's key reaches the operator's URL only; a project's
own endpoint is a judge connection with its own key (encrypted, never shown again, registered by owners and
admins), at public addresses only unless the operator allows private ones."""

from __future__ import annotations

import pytest

from evals import connections, judging, services
from evals.models import EvalRule, JudgeConnection, Score
from tests.base import make_judge_connection, make_project, make_user
from tests.evals.pipeline import rag_trace
from tests.fake_openai import FakeOpenAI
from traces.models import Role

OPERATOR_KEY = "sk-OPERATOR-secret-0123456789"
PROJECT_KEY = "sk-project-own-key-9876"
RUBRIC = {"rubric": {"criteria": "Is the answer polite?", "scale": {"min": 1, "max": 5}, "pass_threshold": 4}}
RUBRIC_REPLY = '{"score": 5, "reason": "Polite and on topic."}'


@pytest.fixture
def operator_judge(settings):
    with FakeOpenAI(answer=RUBRIC_REPLY) as server:
        settings.PEEKR_JUDGE_BASE_URL = server.base_url
        settings.PEEKR_JUDGE_API_KEY = OPERATOR_KEY
        settings.PEEKR_JUDGE_MODEL = "judge-model"
        yield server


def rubric_rule(project, connection=None) -> EvalRule:
    return services.eval_rule_create(
        project=project,
        name="politeness",
        evaluators=["rubric"],
        filter={"kind": "llm"},
        judge_connection_id=connection.pk if connection else None,
        judge_model="judge-model",
        config=RUBRIC,
    )


def judge_once(project) -> Score:
    trace = rag_trace(project)
    (pending,) = services.trace_evaluate(trace_pk=trace.pk)
    judging.judge_score_run(score_pk=pending)
    return Score.objects.get(pk=pending)


def authorizations(server: FakeOpenAI) -> set[str]:
    return {r["headers"].get("Authorization", "") for r in server.requests}


@pytest.mark.django_db
def test_a_project_connection_gets_its_own_key_and_never_the_operators(project, operator_judge):
    with FakeOpenAI(answer=RUBRIC_REPLY) as project_judge:
        rubric_rule(project, make_judge_connection(project, project_judge.base_url, api_key=PROJECT_KEY))
        score = judge_once(project)

    assert score.status == Score.Status.DONE, score.error
    assert authorizations(project_judge) == {f"Bearer {PROJECT_KEY}"}
    assert not any(OPERATOR_KEY in str(r) for r in project_judge.requests)
    assert operator_judge.requests == [], "the operator's endpoint was not used"


@pytest.mark.django_db
def test_the_operators_key_goes_to_the_operators_url(project, operator_judge):
    rubric_rule(project)
    score = judge_once(project)

    assert score.status == Score.Status.DONE, score.error
    assert authorizations(operator_judge) == {f"Bearer {OPERATOR_KEY}"}


@pytest.mark.django_db
def test_the_api_refuses_a_rule_with_a_bare_judge_url(client, project, api_key, operator_judge):
    body = {"name": "exfiltrate", "evaluators": ["rubric"], "judge_base_url": "https://attacker.example/v1"}
    response = client.post(
        "/api/v1/eval-rules", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {api_key}"
    )

    assert response.status_code in (400, 422), response.content
    assert "judge connection" in response.content.decode()
    assert not EvalRule.objects.filter(project=project, name="exfiltrate").exists()


@pytest.mark.django_db
def test_a_rule_cannot_use_another_projects_connection(client, project, api_key, other_project_and_key):
    other, _ = other_project_and_key
    theirs = make_judge_connection(other, "http://127.0.0.1:9/v1")
    body = {"name": "borrowed", "evaluators": ["rubric"], "judge_connection_id": theirs.pk}
    response = client.post(
        "/api/v1/eval-rules", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {api_key}"
    )

    assert response.status_code in (400, 422)
    assert not EvalRule.objects.filter(name="borrowed").exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/v1",
        "http://localhost:11434/v1",
        "http://10.1.2.3/v1",
        "http://192.168.0.10/v1",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/v1",
        "http://[::ffff:127.0.0.1]/v1",
        "http://0.0.0.0/v1",
        "ftp://example.com/v1",
        "http://user:pass@example.com/v1",
    ],
)
@pytest.mark.django_db
def test_private_loopback_and_link_local_urls_are_refused(project, settings, url):
    settings.PEEKR_JUDGE_ALLOW_PRIVATE = False
    with pytest.raises(connections.JudgeConnectionInvalid):
        connections.judge_connection_create(project=project, user=None, name="x", base_url=url, api_key="k")
    assert not JudgeConnection.objects.exists()


@pytest.mark.django_db
def test_the_operator_can_allow_private_addresses(project, settings):
    settings.PEEKR_JUDGE_ALLOW_PRIVATE = True
    conn = connections.judge_connection_create(
        project=project, user=None, name="local vllm", base_url="http://10.1.2.3:8000/v1/", api_key=PROJECT_KEY
    )
    assert conn.base_url == "http://10.1.2.3:8000/v1"


@pytest.mark.django_db
def test_an_address_refused_at_connection_time_never_receives_a_request(project, settings, operator_judge):
    """Registered while private addresses were allowed (or a name that later resolves inside): the guarded
    client checks the address it dials, every time."""
    with FakeOpenAI(answer=RUBRIC_REPLY) as inside:
        rubric_rule(project, make_judge_connection(project, inside.base_url, api_key=PROJECT_KEY))
        settings.PEEKR_JUDGE_ALLOW_PRIVATE = False
        score = judge_once(project)

    assert inside.requests == []
    assert score.status == Score.Status.ERROR
    assert "127.0.0.1 is a loopback address" in score.error
    assert score.attempts == 1, "a refused address is final, not retried"


@pytest.mark.django_db
def test_the_key_is_stored_encrypted_and_never_shown_again(client, owner, project):
    client.force_login(owner)
    page = f"/p/{project.pk}/evals/judges"
    response = client.post(page, {"name": "ours", "base_url": "http://127.0.0.1:9/v1", "api_key": PROJECT_KEY})
    assert response.status_code == 302

    conn = JudgeConnection.objects.get(project=project)
    assert PROJECT_KEY not in conn.api_key_encrypted
    assert connections.rule_judge(EvalRule(project=project, judge_connection=conn)).api_key == PROJECT_KEY
    html = client.get(page).content.decode()
    assert "ours" in html and conn.key_hint in html
    assert PROJECT_KEY not in html


@pytest.mark.parametrize("role", [Role.ENGINEER, Role.REVIEWER, Role.VIEWER])
@pytest.mark.django_db
def test_only_owners_and_admins_register_connections(client, project, role):
    from traces.models import Membership

    member = make_user(f"m-{role}")
    Membership.objects.create(project=project, user=member, role=role)
    client.force_login(member)
    page = f"/p/{project.pk}/evals/judges"

    # Members see the connections; a reviewer only where reviewers may browse beyond their queues.
    assert client.get(page).status_code == (404 if role == Role.REVIEWER else 200)
    response = client.post(page, {"name": "mine", "base_url": "http://127.0.0.1:9/v1", "api_key": "k"})
    assert response.status_code == 404
    assert not JudgeConnection.objects.exists()


@pytest.mark.django_db
def test_an_admin_registers_one_and_an_outsider_sees_nothing(client, project, outsider):
    from traces.models import Membership

    admin = make_user("admin")
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    client.force_login(admin)
    client.post(f"/p/{project.pk}/evals/judges", {"name": "ours", "base_url": "http://127.0.0.1:9/v1", "api_key": ""})
    assert JudgeConnection.objects.filter(project=project, name="ours").exists()

    client.force_login(outsider)
    assert client.get(f"/p/{project.pk}/evals/judges").status_code == 404


@pytest.mark.django_db
def test_a_connection_in_use_is_not_removed(project):
    conn = make_judge_connection(project, "http://127.0.0.1:9/v1")
    rubric_rule(project, conn)
    with pytest.raises(connections.JudgeConnectionInvalid, match="politeness"):
        connections.judge_connection_delete(connection=conn)
    assert JudgeConnection.objects.filter(pk=conn.pk).exists()


@pytest.mark.django_db
def test_the_api_lists_connections_without_their_keys(client, project, api_key):
    other, _ = make_project("another")
    make_judge_connection(project, "http://127.0.0.1:9/v1", api_key=PROJECT_KEY, name="ours")
    make_judge_connection(other, "http://127.0.0.1:9/v1", name="theirs")
    response = client.get("/api/v1/judge-connections", HTTP_AUTHORIZATION=f"Bearer {api_key}")

    assert response.status_code == 200
    assert [c["name"] for c in response.json()] == ["ours"]
    assert PROJECT_KEY not in response.content.decode()
