"""peekr_setup, run by `make run`: an admin login and a demo project with a key and a review queue, idempotent.
Secrets are printed on the first run only; the generated password is kept owner-only until it is changed; no raw
demo key is kept."""

import stat
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from annotations.models import Queue
from peekr_web.accounts import password_is_generated
from traces.models import ApiKey, Project

pytestmark = pytest.mark.django_db


def setup(settings, tmp_path) -> dict[str, str]:
    settings.DATA_DIR = tmp_path
    out = StringIO()
    call_command("peekr_setup", stdout=out)
    return dict(line.split(": ", 1) for line in out.getvalue().splitlines())


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_first_run_makes_the_login_the_project_its_key_and_a_review_queue(settings, tmp_path):
    printed = setup(settings, tmp_path)

    username, password = printed["login"].split(" / ")
    admin = get_user_model().objects.get(username=username)
    assert admin.check_password(password) and admin.is_superuser and admin.is_staff
    assert password_is_generated(admin.password)  # the pages ask to change it
    project = Project.objects.get(name="demo")
    assert ApiKey.objects.filter(project=project, key_hash=ApiKey.hash(printed["demo key"])).exists()
    queue = Queue.objects.get(project=project)
    assert sorted(queue.routing_rules.values_list("kind", flat=True)) == [
        "failing_rule",
        "finding",
        "signal",
        "thumbs_down",
    ]


def test_the_password_is_kept_owner_only_and_the_demo_key_is_not_kept(settings, tmp_path):
    printed = setup(settings, tmp_path)

    password_file = tmp_path / "admin_password"
    assert password_file.read_text() == printed["login"].split(" / ")[1]
    assert mode(password_file) == 0o600
    assert not (tmp_path / "demo_key").exists()
    assert printed["demo key"] not in "".join(p.read_text() for p in tmp_path.rglob("*") if p.is_file())


def test_a_second_run_prints_no_secret_and_reuses_everything(settings, tmp_path):
    first = setup(settings, tmp_path)
    Queue.objects.all().delete()

    second = setup(settings, tmp_path)

    password = first["login"].split(" / ")[1]
    assert password not in second["login"]
    assert (
        second["login"]
        == f"admin (password printed at the first start; in {tmp_path / 'admin_password'} until you change it)"
    )
    assert first["demo key"] not in second["demo key"] and "pk_" not in second["demo key"]
    assert second["demo key"].startswith("printed once, at the first start; make another under API keys")
    assert second["demo project"] == first["demo project"]
    assert Project.objects.filter(name="demo").count() == 1
    assert ApiKey.objects.filter(project__name="demo").count() == 1
    assert not Queue.objects.exists()  # a deleted queue is not brought back


def test_once_the_password_is_changed_the_generated_one_is_deleted(settings, tmp_path):
    setup(settings, tmp_path)
    admin = get_user_model().objects.get(username="admin")
    admin.set_password("my-own-password-9")
    admin.save()

    printed = setup(settings, tmp_path)

    assert printed["login"] == "admin"
    assert not (tmp_path / "admin_password").exists()
    admin.refresh_from_db()
    assert admin.check_password("my-own-password-9")


def test_an_older_install_gets_its_files_tightened_its_raw_key_removed_and_its_password_marked(settings, tmp_path):
    # As earlier versions left it: a plain superuser with the password in a 0644 file, the raw demo key beside it.
    get_user_model().objects.create_superuser(username="admin", email="", password="old-generated-1")
    (tmp_path / "admin_password").write_text("old-generated-1")
    (tmp_path / "admin_password").chmod(0o644)
    (tmp_path / "demo_key").write_text("pk_old")

    printed = setup(settings, tmp_path)

    assert "old-generated-1" not in printed["login"]
    assert mode(tmp_path / "admin_password") == 0o600
    assert not (tmp_path / "demo_key").exists()
    admin = get_user_model().objects.get(username="admin")
    assert password_is_generated(admin.password) and admin.check_password("old-generated-1")
