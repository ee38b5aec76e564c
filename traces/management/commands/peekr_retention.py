from datetime import datetime

from django.core.management.base import BaseCommand, CommandError

from traces.models import Project
from traces.retention_run import retention_run


class Command(BaseCommand):
    help = (
        "Apply every project's retention now (what beat does daily): span content past its tier emptied, traces past "
        "the record tier deleted, on PostgreSQL span partitions created ahead and old ones dropped. --dry-run says "
        "what it would remove and changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="count what would be removed; change nothing")
        parser.add_argument("--project", type=int, help="only this project id")
        parser.add_argument("--now", help="ISO time to compute the cutoffs from (default: now)")
        parser.add_argument("--batch", type=int, help="span ids per batch (default PEEKR_RETENTION_BATCH)")

    def handle(self, *args, dry_run=False, project=None, now=None, batch=None, **options):
        target = None
        if project is not None:
            target = Project.objects.filter(pk=project).first()
            if target is None:
                raise CommandError(f"no project with id {project}")
        at = None
        if now:
            try:
                at = datetime.fromisoformat(now)
            except ValueError as exc:
                raise CommandError(f"--now: {exc}") from exc
            if at.tzinfo is None:
                raise CommandError("--now needs a time zone (e.g. 2027-01-31T00:00:00+00:00)")
        run = retention_run(now=at, dry_run=dry_run, project=target, batch=batch)
        verb = "would remove" if dry_run else "removed"
        self.stdout.write(f"Retention run {run.pk} at {run.now:%Y-%m-%d %H:%M} UTC{' (dry run)' if dry_run else ''}:")
        if not run.removed:
            self.stdout.write("  nothing to remove")
        for entry in run.removed:
            where = f"project {entry['project']} " if "project" in entry else ""
            traces = f" ({entry['traces']} traces)" if entry.get("traces") else ""
            step = entry["step"]
            if step == "partition":
                rows = f", {entry['rows']} spans" if entry["what"].startswith("dropped") else ""
                self.stdout.write(f"  partition: {'would be ' if dry_run else ''}{entry['what']}{rows}")
            else:
                self.stdout.write(f"  {where}{step}: {verb} {entry['rows']}{traces}, {entry['what']}")
