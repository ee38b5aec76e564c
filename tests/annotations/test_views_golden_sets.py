"""Golden sets /p/<id>/golden-sets and /p/<id>/golden-sets/<set>?version=N: versions, cases, growth, exports."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from annotations import services
from annotations.models import GoldenItem, GoldenSet
from tests.annotations.helpers import DOCS, agent_trace, make_queue, reviewed_item
from tests.base import make_project, make_user
from traces.models import Membership, Role


@pytest.fixture
def golden(project, owner):
    """A set with two versions: v1 one case, v2 that case plus another."""
    golden = services.golden_set_create(project=project, name="refunds")
    queue = make_queue(project, "q")
    first = reviewed_item(queue, agent_trace(project), owner, labels=["hallucination"], expected_output="30 days")
    services.golden_items_promote(golden_set=golden, items_or_traces=[first], group=False)
    second = reviewed_item(queue, agent_trace(project, question="Cancel order 9", answer="I can't."), owner,
                           labels=["refusal"])  # fmt: skip
    services.golden_items_promote(golden_set=golden, items_or_traces=[second], group=False)
    return golden


def detail_url(project, golden, **params):
    url = reverse("annotations:golden_set_detail", args=[project.pk, golden.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def test_the_list_shows_sets_and_the_quarter_figure(owner_client, project, golden):
    old = GoldenItem.objects.filter(version__number=2).order_by("pk").first()
    GoldenItem.objects.filter(pk=old.pk).update(added_at=timezone.now() - timedelta(days=200))
    html = owner_client.get(reverse("annotations:golden_set_list", args=[project.pk])).content.decode()
    assert "refunds" in html and "v2" in html
    assert '<div class="figure" id="added-quarter">1</div>' in html  # one of the two cases is recent


def test_the_latest_version_shows_cases_with_context_labels_and_graders(owner_client, project, golden):
    html = owner_client.get(detail_url(project, golden)).content.decode()
    assert "version 2 · latest" in html
    assert html.count('class="golden-item"') == 2
    assert DOCS[0] in html and "hallucination" in html and "faithfulness" in html and "30 days" in html


def test_an_old_version_reads_as_it_was(owner_client, project, golden):
    html = owner_client.get(detail_url(project, golden, version=1)).content.decode()
    assert "version 1" in html and "latest" not in html.split("<h1>")[1].split("</h1>")[0]
    assert html.count('class="golden-item"') == 1
    assert "Cancel order 9" not in html
    assert "An older version: read-only" in html


def test_an_unknown_version_is_404(owner_client, project, golden):
    assert owner_client.get(detail_url(project, golden, version=9)).status_code == 404


def test_removing_a_case_writes_a_new_version_and_keeps_the_old(owner_client, project, golden):
    case_id = GoldenItem.objects.filter(version__number=2).order_by("pk").first().case_id
    url = reverse("annotations:golden_item_remove", args=[project.pk, golden.pk])
    assert owner_client.post(url, {"case_id": case_id}).status_code == 302
    versions = {v.number: v for v in GoldenSet.objects.get(pk=golden.pk).versions.all()}
    assert sorted(versions) == [1, 2, 3]
    assert versions[2].items.filter(case_id=case_id).exists()
    assert not versions[3].items.filter(case_id=case_id).exists()


def test_exports_jsonl_and_pytest_of_a_version(owner_client, project, golden):
    url = reverse("annotations:golden_export", args=[project.pk, golden.pk, "jsonl"])
    response = owner_client.get(url + "?version=1")
    lines = response.content.decode().splitlines()
    assert response["Content-Disposition"] == 'attachment; filename="refunds-v1.jsonl"'
    assert len(lines) == 1 and json.loads(lines[0])["expected_output"] == "30 days"
    pytest_file = owner_client.get(reverse("annotations:golden_export", args=[project.pk, golden.pk, "pytest"]))
    assert "test_golden_refunds.py" in pytest_file["Content-Disposition"]
    compile(pytest_file.content.decode(), "test_golden_refunds.py", "exec")
    assert (
        owner_client.get(reverse("annotations:golden_export", args=[project.pk, golden.pk, "csv"])).status_code == 404
    )


def test_an_owner_creates_a_set(owner_client, project):
    response = owner_client.post(reverse("annotations:golden_set_list", args=[project.pk]), {"name": "tools"})
    golden = GoldenSet.objects.get(project=project, name="tools")
    assert response["Location"] == detail_url(project, golden)
    assert "No versions yet" in owner_client.get(detail_url(project, golden)).content.decode()


def test_a_reviewer_reads_but_cannot_create_or_remove(client, project, golden):
    user = make_user("rita")
    Membership.objects.create(project=project, user=user, role=Role.REVIEWER)
    client.force_login(user)
    assert client.get(detail_url(project, golden)).status_code == 200
    assert client.post(reverse("annotations:golden_set_list", args=[project.pk]), {"name": "x"}).status_code == 404
    case_id = GoldenItem.objects.filter(version__number=2).first().case_id
    url = reverse("annotations:golden_item_remove", args=[project.pk, golden.pk])
    assert client.post(url, {"case_id": case_id}).status_code == 404
    assert GoldenSet.objects.count() == 1 and golden.versions.count() == 2


def test_outsider_gets_404(client, project, golden, outsider):
    make_project("elsewhere", owner=outsider)
    client.force_login(outsider)
    assert client.get(reverse("annotations:golden_set_list", args=[project.pk])).status_code == 404
    assert client.get(detail_url(project, golden)).status_code == 404
    assert client.get(reverse("annotations:golden_export", args=[project.pk, golden.pk, "jsonl"])).status_code == 404
    assert client.post(reverse("annotations:golden_set_list", args=[project.pk]), {"name": "x"}).status_code == 404


def test_a_hostile_set_name_gives_a_safe_download_name(owner_client, project, golden):
    GoldenSet.objects.filter(pk=golden.pk).update(name='refunds"\r\nX-Evil: 1; ../x')
    url = reverse("annotations:golden_export", args=[project.pk, golden.pk, "jsonl"])
    response = owner_client.get(url + "?version=1")

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="refunds_X-Evil_1_.._x-v1.jsonl"'
    assert "X-Evil" not in response.headers
