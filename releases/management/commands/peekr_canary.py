"""Compare a candidate release with its baseline and exit 0 (pass), 1 (fail) or 3 (not enough data); 2 on usage
errors. A deploy pipeline promotes on 0, rolls back on 1, waits (or re-runs later) on 3."""

import time

from django.core.management.base import BaseCommand, CommandError

from releases import report, selectors, services, verdict
from traces.models import Project


def project_lookup(name: str | None) -> Project:
    if name:
        project = Project.objects.filter(name=name).first()
        if project is None:
            raise CommandError(f"no project named {name!r}", returncode=2)
        return project
    found = list(Project.objects.order_by("pk")[:2])
    if len(found) != 1:
        raise CommandError("several projects (or none): pass --project NAME", returncode=2)
    return found[0]


class Command(BaseCommand):
    help = (
        "Compare a candidate release with a baseline over a window, from the rollups: print the table and the "
        "verdict, write JUnit XML. Exit 0 pass, 1 fail, 3 not enough data, 2 usage error."
    )

    def add_arguments(self, parser):
        parser.add_argument("--baseline", required=True, help="the release serving today (service.version)")
        parser.add_argument("--candidate", required=True, help="the release to promote (canary or shadow)")
        parser.add_argument("--project", help="project name (default: the only project)")
        parser.add_argument("--window", default="24h", help="30m, 24h, 7d...: from 1h to 90d (default: 24h)")
        parser.add_argument("--junit", default="", help="write JUnit XML here (one test case per blocking check)")
        parser.add_argument(
            "--wait-for-sample",
            type=float,
            default=0.0,
            metavar="MINUTES",
            help="while the verdict is 'not enough data', look again until this many minutes have passed",
        )
        parser.add_argument("--poll-seconds", type=float, default=30.0, help="between looks (default: 30)")

    def handle(self, *args, **o):
        project = project_lookup(o["project"])
        try:
            window = verdict.parse_window(o["window"])
        except ValueError as exc:
            raise CommandError(str(exc), returncode=2) from None
        deadline = time.monotonic() + max(o["wait_for_sample"], 0.0) * 60
        while True:
            try:
                comparison = selectors.compare(
                    project=project, baseline=o["baseline"], candidate=o["candidate"], window=window
                )
            except selectors.UnknownVersion as exc:
                known = ", ".join(exc.versions) or "none yet"
                raise CommandError(f"{exc}; versions: {known}", returncode=2) from None
            status = comparison["verdict"]["status"]
            left = deadline - time.monotonic()
            if status != verdict.NOT_ENOUGH or left <= 0:
                break
            self.stderr.write(f"not enough data yet: {comparison['verdict']['reason']}; looking again")
            time.sleep(min(max(o["poll_seconds"], 0.1), left))
        services.verdict_publish(project=project, comparison=comparison)
        self.stdout.write(report.table_text(comparison))
        if o["junit"]:
            with open(o["junit"], "w", encoding="utf-8") as f:
                f.write(report.junit_xml(comparison))
        raise SystemExit(comparison["verdict"]["exit_code"])
