from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from traces.models import Project
from traces.services import project_create


class Command(BaseCommand):
    help = "Create a project and print its new ingestion key (shown once) as the last line."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--owner", help="username to make the project's owner (so it shows in the UI)")

    def handle(self, *args, name: str, owner: str | None = None, **options):
        if Project.objects.filter(name=name).exists():
            raise CommandError(f"a project named {name!r} already exists")
        user = None
        if owner:
            user = get_user_model().objects.filter(username=owner).first()
            if user is None:
                raise CommandError(f"no user named {owner!r}")
        project, raw_key = project_create(name=name, owner=user)
        self.stdout.write(f"Created project {project.name!r} (id {project.pk}). Its ingestion key, shown once:")
        self.stdout.write(raw_key)
