"""Idempotent first-run set-up for `make run`: an admin login and a demo project with a key and a review queue.

The laptop default keeps the generated admin password and demo key in PEEKR_DATA_DIR so that a second
`make run` reuses them (keys are otherwise shown once and stored hashed).
"""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from traces.models import ApiKey, Membership, Project, Role
from traces.services import api_key_create, project_create

DEMO_PROJECT = "demo"


DEMO_QUEUE = "Flagged by Peekr"


def demo_queue_create(project: Project) -> None:
    """A review queue for the demo project, so that its flagged traffic has somewhere to go: failing rules,
    thumbs-down and detector findings are routed to it. Made once, with the project (a user may delete it)."""
    from annotations.models import RoutingRule
    from annotations.services import queue_create, routing_rule_create

    queue = queue_create(
        project=project,
        name=DEMO_QUEUE,
        description="Traces a rule failed on, a user gave a thumbs down, or a detector found a problem in.",
        score_configs=[{"name": "correct", "type": "boolean"}],
    )
    for kind in (RoutingRule.Kind.FAILING_RULE, RoutingRule.Kind.THUMBS_DOWN, RoutingRule.Kind.FINDING):
        routing_rule_create(queue=queue, kind=kind)


class Command(BaseCommand):
    help = "Create (or reuse) the admin login and the demo project; print how to log in."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username: str, **options):
        password_file = settings.DATA_DIR / "admin_password"
        key_file = settings.DATA_DIR / "demo_key"
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            password = secrets.token_urlsafe(12)
            user = User.objects.create_superuser(username=username, email="", password=password)
            password_file.write_text(password)
        password = password_file.read_text().strip() if password_file.exists() else "(unchanged, set earlier)"

        project = Project.objects.filter(name=DEMO_PROJECT).first()
        if project is None:
            project, raw_key = project_create(name=DEMO_PROJECT, owner=user)
            key_file.write_text(raw_key)
            demo_queue_create(project)
        Membership.objects.get_or_create(project=project, user=user, defaults={"role": Role.OWNER})
        raw_key = key_file.read_text().strip() if key_file.exists() else ""
        if not raw_key or not ApiKey.objects.filter(key_hash=ApiKey.hash(raw_key), revoked_at__isnull=True).exists():
            _, raw_key = api_key_create(project=project, name="demo")
            key_file.write_text(raw_key)

        self.stdout.write(f"login: {username} / {password}")
        self.stdout.write(f"demo project: {project.name} (id {project.pk})")
        self.stdout.write(f"demo key: {raw_key}")
