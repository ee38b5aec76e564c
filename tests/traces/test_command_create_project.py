from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from traces.models import ApiKey, Project
from traces.selectors import project_for_key


@pytest.mark.django_db
def test_it_prints_a_working_key_as_the_last_line():
    out = StringIO()
    call_command("create_project", "shop-assistant", stdout=out)

    key = out.getvalue().strip().splitlines()[-1]
    project = Project.objects.get(name="shop-assistant")
    assert project_for_key(key) == project
    stored = ApiKey.objects.get(project=project)
    assert key not in (stored.key_hash, stored.display) and stored.key_hash == ApiKey.hash(key)


@pytest.mark.django_db
def test_a_second_project_with_the_same_name_is_refused():
    call_command("create_project", "dup", stdout=StringIO())
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_project", "dup", stdout=StringIO())


@pytest.mark.django_db
def test_the_owner_option_makes_a_member(owner):
    call_command("create_project", "owned", "--owner", "owner", stdout=StringIO())
    assert Project.objects.get(name="owned").memberships.get().user == owner
    with pytest.raises(CommandError, match="no user"):
        call_command("create_project", "orphan", "--owner", "ghost", stdout=StringIO())
