"""The role x scope matrix, once: what each role and each key scope may do (the table), and every HTML view and
every API operation declaring what it needs and answering by it. A new endpoint without a declared action fails
here."""

import json
import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from peekr_web.api import api
from tests.base import make_key, make_token, make_user
from traces.access import Action, role_can, scope_can
from traces.models import KeyScope, Membership, Role

A = Action
# What each role may do. Reviewers browse only through the project's setting (VIEW_TRACES is tested apart).
ROLE_TABLE = {
    Role.OWNER: set(Action),
    Role.ADMIN: set(Action),
    Role.ENGINEER: {
        A.MEMBER,
        A.VIEW_TRACES,
        A.VIEW_RAW,
        A.VIEW_REVIEW,
        A.INGEST,
        A.REVIEW,
        A.MANAGE_REVIEW,
        A.MANAGE_RULES,
        A.MANAGE_MONITORS,
    },  # fmt: skip
    Role.REVIEWER: {A.MEMBER, A.VIEW_RAW, A.VIEW_REVIEW, A.REVIEW},
    Role.VIEWER: {A.MEMBER, A.VIEW_TRACES, A.VIEW_RAW, A.VIEW_REVIEW},
}
SCOPE_TABLE = {
    KeyScope.INGEST: {A.INGEST},
    KeyScope.READ: {A.VIEW_TRACES, A.VIEW_RAW, A.VIEW_REVIEW},
    KeyScope.ADMIN: set(Action) - {A.REVIEW, A.MANAGE_MEMBERS},  # a key is not a person
}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("action", list(Action))
def test_each_role_may_do_what_the_table_says(role, action):
    assert role_can(role, action) == (action in ROLE_TABLE[role])


@pytest.mark.parametrize("scope", list(KeyScope))
@pytest.mark.parametrize("action", list(Action))
def test_each_key_scope_may_do_what_the_table_says(scope, action):
    assert scope_can(scope, action) == (action in SCOPE_TABLE[scope])


# --- Every API operation ---


def api_operations():
    api.urls  # noqa: B018 - mounts the routers
    for prefix, router in api._routers:
        for path, path_view in router.path_operations.items():
            for op in path_view.operations:
                for method in op.methods:
                    yield method, "/api" + (prefix + path).replace("//", "/"), op


def test_every_api_operation_declares_what_it_needs():
    undeclared = [f"{m} {p}" for m, p, op in api_operations() if not getattr(op.view_func, "access_action", None)]
    assert undeclared == []
    assert len(list(api_operations())) > 50


def fill(path: str, project_pk: int) -> str:
    path = path.replace("{project_id}", str(project_pk))
    return re.sub(r"\{[^}]+\}", "999999", path)


def call(client, method: str, url: str, token: str, **headers):
    return client.generic(method, url, json.dumps({}), content_type="application/json",
                          HTTP_AUTHORIZATION=f"Bearer {token}", **headers)  # fmt: skip


@pytest.fixture
def callers(project):
    """Every kind of caller of this project: a key of each scope, a personal token of each role."""
    out = {f"key:{scope}": (make_key(project, scope=scope, name=scope), SCOPE_TABLE[scope]) for scope in KeyScope}
    for role in Role:
        user = make_user(f"m-{role}")
        Membership.objects.create(project=project, user=user, role=role)
        out[f"token:{role}"] = (make_token(user), ROLE_TABLE[role])
    return out


@pytest.mark.django_db
def test_every_api_operation_answers_each_scope_and_role_by_the_table(client, project, callers):
    wrong = []
    for method, path, op in api_operations():
        action = op.view_func.access_action
        url = fill(path, project.pk)
        for name, (token, allowed) in callers.items():
            status = call(client, method, url, token).status_code
            refused = status == 403
            if refused != (action not in allowed) or status == 401:
                wrong.append(f"{method} {path} as {name}: {status} (needs {action})")
    assert wrong == []


@pytest.mark.django_db
def test_a_token_of_someone_outside_the_project_is_refused(client, project):
    stranger = make_user("stranger")
    token = make_token(stranger)
    # In no project: there is no project to act in.
    assert call(client, "GET", "/api/v1/traces", token).status_code == 400
    # Naming a project they are not in: not authenticated for it.
    assert call(client, "GET", "/api/v1/traces", token, HTTP_X_PEEKR_PROJECT=str(project.pk)).status_code == 401


# --- Every HTML view ---


def project_patterns():
    """(name, route, callback) of every URL pattern whose route carries a project id."""

    def walk(resolver, prefix="", namespace=""):
        for p in resolver.url_patterns:
            if isinstance(p, URLResolver):
                ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
                yield from walk(p, prefix + str(p.pattern), ns)
            elif isinstance(p, URLPattern):
                route = prefix + str(p.pattern)
                if "<int:project_id>" in route:
                    yield f"{namespace}{p.name}", route, p.callback

    return list(walk(get_resolver()))


def test_every_project_view_declares_what_it_needs():
    undeclared = [name for name, _, callback in project_patterns() if not getattr(callback, "access_action", None)]
    assert undeclared == []
    assert len(project_patterns()) > 40


@pytest.mark.django_db
def test_every_project_page_answers_each_role_by_the_table(client, project):
    """Pages addressed by the project alone are requested as every role: refused answers the outsider's 404,
    allowed does not; pages that also need an object's id answer 404 to a refused role before any lookup."""
    users = {}
    for role in Role:
        users[role] = make_user(f"v-{role}")
        Membership.objects.create(project=project, user=users[role], role=role)
    wrong = []
    for name, route, callback in project_patterns():
        only_project = route.count("<") == 1
        url = re.sub(r"<[^>]+>", "1", route.replace("<int:project_id>", str(project.pk)))
        url = "/" + url.lstrip("^")
        for role, user in users.items():
            client.force_login(user)
            for method, action in (("GET", callback.access_action), ("POST", callback.access_post_action)):
                response = client.get(url) if method == "GET" else client.post(url, {})
                if response.status_code == 405:
                    continue
                allowed = action in ROLE_TABLE[role]
                if not allowed and response.status_code != 404:
                    wrong.append(f"{method} {name} as {role}: {response.status_code}, should be refused")
                if allowed and only_project and response.status_code == 404:
                    wrong.append(f"{method} {name} as {role}: 404, should be allowed ({action})")
    assert wrong == []
