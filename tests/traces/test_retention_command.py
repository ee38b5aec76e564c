"""manage.py peekr_retention: --dry-run says what it would remove and changes nothing; a second run removes
nothing more (idempotent); a run cut short is resumed by the next."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tests.base import make_trace
from traces.models import RetentionPolicy, RetentionRun, Span, Trace
from traces.retention import EXPIRED_MARKER
from traces.retention_run import retention_run


def command(*args) -> str:
    out = StringIO()
    call_command("peekr_retention", *args, stdout=out)
    return out.getvalue()


def contents(project) -> list:
    return list(Span.objects.filter(project=project).order_by("pk").values_list("input_text", "attributes"))


@pytest.mark.django_db
def test_dry_run_says_what_it_would_remove_and_changes_nothing(project):
    t0 = timezone.now()
    for _ in range(3):
        make_trace(project)  # three spans each
    before = contents(project)

    out = command("--dry-run", "--now", (t0 + timedelta(days=31)).isoformat())

    assert "(dry run)" in out
    assert f"project {project.pk} content:content: would remove 9 (3 traces)" in out
    assert contents(project) == before
    assert not Trace.objects.filter(content_expired_at__isnull=False).exists()
    assert not RetentionPolicy.objects.filter(project=project).exists()  # no progress saved
    run = RetentionRun.objects.get()
    assert run.dry_run and run.status == "done"

    out = command("--dry-run", "--now", (t0 + timedelta(days=373)).isoformat())
    assert f"project {project.pk} records:traces: would remove 3" in out
    assert Trace.objects.filter(project=project).count() == 3


@pytest.mark.django_db
def test_a_second_run_removes_nothing_more(project):
    t0 = timezone.now()
    make_trace(project)
    at = (t0 + timedelta(days=31)).isoformat()
    first = command("--now", at)
    assert f"project {project.pk} content:content: removed 3 (1 traces)" in first
    after_first = contents(project)

    second = command("--now", at)

    assert "content:content" not in second and "nothing to remove" in second
    assert contents(project) == after_first
    assert [r.status for r in RetentionRun.objects.order_by("pk")] == ["done", "done"]


@pytest.mark.django_db
def test_a_run_cut_short_is_finished_by_the_next(project, monkeypatch):
    """Each batch commits on its own; a run that dies leaves its row 'failed', and the next one does the rest."""
    t0 = timezone.now()
    for _ in range(4):
        make_trace(project)
    from traces import retention_run as job

    real = job.extensions.retention_flagged
    calls = []

    def dies_on_the_third_batch(project, trace_pks):
        calls.append(trace_pks)
        if len(calls) == 3:
            raise RuntimeError("worker killed")
        return real(project, trace_pks)

    monkeypatch.setattr(job.extensions, "retention_flagged", dies_on_the_third_batch)
    with pytest.raises(RuntimeError):
        retention_run(now=t0 + timedelta(days=31), batch=3, pause=0)
    failed = RetentionRun.objects.get()
    assert failed.status == "failed" and "worker killed" in failed.error
    done = Span.objects.filter(project=project, attributes__has_key=EXPIRED_MARKER).count()
    assert done == 6  # two batches of three spans

    monkeypatch.setattr(job.extensions, "retention_flagged", real)
    run = retention_run(now=t0 + timedelta(days=31), batch=3, pause=0)
    assert run.status == "done"
    assert Span.objects.filter(project=project, attributes__has_key=EXPIRED_MARKER).count() == 12


@pytest.mark.django_db
def test_it_refuses_an_unknown_project_and_a_naive_time():
    with pytest.raises(CommandError, match="no project"):
        command("--project", "999")
    with pytest.raises(CommandError, match="time zone"):
        command("--now", "2027-01-01T00:00:00")
