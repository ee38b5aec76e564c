from django.core.management.base import BaseCommand, CommandError

from traces.models import Project
from traces.services import project_create


class Command(BaseCommand):
    help = "Create a project and print its new ingestion key (shown once) as the last line."

    def add_arguments(self, parser):
        parser.add_argument("name")

    def handle(self, *args, name: str, **options):
        if Project.objects.filter(name=name).exists():
            raise CommandError(f"a project named {name!r} already exists")
        project, raw_key = project_create(name=name)
        self.stdout.write(f"Created project {project.name!r} (id {project.pk}). Its ingestion key, shown once:")
        self.stdout.write(raw_key)
