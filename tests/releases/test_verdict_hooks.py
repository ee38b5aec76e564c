"""releases.services.VERDICT_HOOKS: called with (project, comparison) on a failed verdict only; one hook that
raises costs neither the others nor the verdict."""

import pytest

from releases import services


@pytest.mark.django_db
@pytest.mark.parametrize(("status", "calls"), [("fail", 1), ("pass", 0), ("not_enough_data", 0)])
def test_hooks_run_on_a_failed_verdict_only(project, monkeypatch, status, calls):
    seen = []

    def broken(project, comparison):
        raise RuntimeError("a hook's bug")

    monkeypatch.setattr(services, "VERDICT_HOOKS", [broken, lambda p, c: seen.append((p.pk, c["verdict"]["status"]))])
    services.verdict_publish(project=project, comparison={"verdict": {"status": status}})
    assert seen == [(project.pk, "fail")] * calls
