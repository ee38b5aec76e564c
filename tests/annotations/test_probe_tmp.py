import pytest
from annotations import services
from tests.annotations.helpers import agent_trace

@pytest.mark.django_db
def test_probe(project):
    t = agent_trace(project)
    import pprint; pprint.pprint(services.case_from_trace(trace=t))
