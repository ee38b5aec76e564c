"""The first trace seen with a new service.version becomes a deploy marker, at that trace's time."""

import pytest

from metrics.models import Deploy
from metrics.services import deploy_record, traces_rollup
from tests.base import make_production_trace
from tests.metrics.helpers import hour_ago


@pytest.mark.django_db
def test_the_first_trace_of_a_release_creates_its_deploy_once(project):
    later = make_production_trace(project, start=hour_ago(1), release="3.0.0")
    first = make_production_trace(project, start=hour_ago(2), release="3.0.0")
    traces_rollup([later.pk, first.pk])
    traces_rollup([make_production_trace(project, start=hour_ago(0), release="3.0.0").pk])

    deploy = Deploy.objects.get(project=project)
    assert (deploy.version, deploy.environment, deploy.source) == ("3.0.0", "production", "traces")
    assert deploy.at == first.start_time


@pytest.mark.django_db
def test_a_posted_deploy_is_not_duplicated_by_traces(project):
    deploy_record(project=project, version="3.1.0", environment="prod-eu")
    traces_rollup([make_production_trace(project, start=hour_ago(1), release="3.1.0").pk])
    assert list(Deploy.objects.filter(project=project).values_list("version", "source")) == [("3.1.0", "api")]
