"""Idempotent first-run set-up for `make run`: an admin login and a demo project with a key (and what the apps above
traces add to a new demo project, through traces.extensions: a review queue).

Secrets are shown once. The generated admin password is printed at the first start only, and kept in
PEEKR_DATA_DIR/admin_password (owner-only, 0600) until it is changed; the pages ask to change it until then. The
demo key is printed at the first start only; like every key, only its hash is kept.
"""

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from peekr_web.accounts import generated_password_hash, password_is_generated
from peekr_web.secret_files import secret_tighten, secret_write
from traces import extensions
from traces.models import Membership, Project, Role
from traces.services import project_create

DEMO_PROJECT = "demo"


def admin_ensure(*, username: str, password_file: Path) -> tuple[object, str]:
    """The admin user, and what to print after "login: ": its generated password on the first start only."""
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    if user is None:
        password = secrets.token_urlsafe(12)
        user = User.objects.create(
            username=username, is_staff=True, is_superuser=True, password=generated_password_hash(password)
        )
        secret_write(password_file, password)
        return user, f"{username} / {password}"
    if password_file.exists() and not password_is_generated(user.password):
        kept = password_file.read_text().strip()
        if user.check_password(kept):  # kept by a version that did not mark generated passwords: mark it
            user.password = generated_password_hash(kept)
            user.save(update_fields=["password"])
    if not password_is_generated(user.password):
        password_file.unlink(missing_ok=True)  # the password was changed: the generated one is of no use
        return user, username
    secret_tighten(password_file)
    kept_in = f"; in {password_file} until you change it" if password_file.exists() else ""
    return user, f"{username} (password printed at the first start{kept_in})"


def demo_project_ensure(*, user, stale_key_file: Path) -> tuple[Project, str]:
    """The demo project, and its key on the first start only (only its hash is kept)."""
    stale_key_file.unlink(missing_ok=True)  # earlier versions kept the raw demo key here
    project = Project.objects.filter(name=DEMO_PROJECT).first()
    raw_key = ""
    if project is None:
        project, raw_key = project_create(name=DEMO_PROJECT, owner=user)
        extensions.demo_project_created(project)  # e.g. annotations' review queue for its flagged traffic
    Membership.objects.get_or_create(project=project, user=user, defaults={"role": Role.OWNER})
    return project, raw_key


class Command(BaseCommand):
    help = "Create (or reuse) the admin login and the demo project; print how to log in (secrets: first run only)."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username: str, **options):
        user, login = admin_ensure(username=username, password_file=settings.DATA_DIR / "admin_password")
        project, raw_key = demo_project_ensure(user=user, stale_key_file=settings.DATA_DIR / "demo_key")
        self.stdout.write(f"login: {login}")
        self.stdout.write(f"demo project: {project.name} (id {project.pk})")
        if raw_key:
            self.stdout.write(f"demo key: {raw_key}")
        else:
            self.stdout.write(
                f"demo key: printed once, at the first start; make another under API keys (/p/{project.pk}/settings/keys)"
            )
