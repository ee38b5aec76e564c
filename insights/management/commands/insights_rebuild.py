from django.core.management.base import BaseCommand, CommandError

from insights.services import RebuildResult, insights_rebuild
from traces.models import Project


class Command(BaseCommand):
    help = (
        "Run every detector again over the completed traces of a project (or all projects): findings are detected "
        "from scratch and the insights recounted; their status (dismissed, fixed) is kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("--project", help="a project name or id; default: every project")
        parser.add_argument("--batch-size", type=int, default=500, help="traces per span query (default: 500)")

    def handle(self, *args, project: str | None, batch_size: int, **options):
        projects = Project.objects.order_by("pk")
        if project:
            projects = projects.filter(pk=int(project)) if project.isdigit() else projects.filter(name=project)
            if not projects.exists():
                raise CommandError(f"no project {project!r}")
        verbosity = options.get("verbosity", 1)
        for p in projects:

            def progress(r: RebuildResult, name=p.name) -> None:
                if verbosity > 1:
                    self.stdout.write(f"  {name}: {r.traces:,} traces, {r.findings:,} findings, {r.seconds:.1f} s")

            result = insights_rebuild(project=p, batch_size=max(1, batch_size), progress=progress)
            rate = result.traces / result.seconds if result.seconds else 0.0
            self.stdout.write(
                f"{p.name}: {result.traces:,} traces ({result.spans:,} spans) -> {result.findings:,} findings in "
                f"{result.insights:,} insights, {result.seconds:.1f} s ({rate:,.0f} traces/s)"
            )
