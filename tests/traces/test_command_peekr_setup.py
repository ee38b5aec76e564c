"""peekr_setup, run by `make run`: an admin login and a demo project with a key and a review queue, idempotent."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from annotations.models import Queue
from traces.models import ApiKey, Project

pytestmark = pytest.mark.django_db


def setup(settings, tmp_path) -> dict[str, str]:
    settings.DATA_DIR = tmp_path
    out = StringIO()
    call_command("peekr_setup", stdout=out)
    return dict(line.split(": ", 1) for line in out.getvalue().splitlines())


def test_a_first_run_makes_the_login_the_project_its_key_and_a_review_queue(settings, tmp_path):
    printed = setup(settings, tmp_path)

    username, password = printed["login"].split(" / ")
    assert get_user_model().objects.get(username=username).check_password(password)
    project = Project.objects.get(name="demo")
    assert ApiKey.objects.filter(project=project, key_hash=ApiKey.hash(printed["demo key"])).exists()
    queue = Queue.objects.get(project=project)
    assert sorted(queue.routing_rules.values_list("kind", flat=True)) == ["failing_rule", "finding", "thumbs_down"]


def test_a_second_run_reuses_everything_and_does_not_bring_back_a_deleted_queue(settings, tmp_path):
    first = setup(settings, tmp_path)
    Queue.objects.all().delete()

    second = setup(settings, tmp_path)

    assert second == first
    assert Project.objects.filter(name="demo").count() == 1
    assert not Queue.objects.exists()
