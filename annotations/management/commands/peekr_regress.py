"""Replay a golden set against a candidate and fail the build on a regression (exit 1; 2 on usage errors)."""

import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from annotations import regress, selectors, services
from annotations.models import GoldenSet


def golden_set_lookup(name: str, project: str | None) -> GoldenSet:
    qs = GoldenSet.objects.filter(name=name).select_related("project")
    if project:
        qs = qs.filter(project__name=project)
    found = list(qs[:2])
    if not found:
        raise CommandError(
            f"no golden set named {name!r}" + (f" in project {project!r}" if project else ""), returncode=2
        )
    if len(found) > 1:
        raise CommandError(f"several projects have a golden set named {name!r}: pass --project", returncode=2)
    return found[0]


class Command(BaseCommand):
    help = (
        "Replay every case of a golden set against a candidate (an OpenAI-compatible endpoint, or your own "
        "HTTP endpoint through --request-template), grade the answers, store the run, write JUnit XML. "
        "Exit 1 on a regression, 2 on a usage or connection error."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        # --version is the golden set's version (the interface), not Django's own version flag.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("--golden-set", required=True)
        parser.add_argument("--project", help="project name, when several projects have a set of that name")
        parser.add_argument("--version", type=int, help="golden set version (default: the latest)")
        parser.add_argument("--target", required=True, help="OpenAI-compatible base URL (.../v1) or your endpoint")
        parser.add_argument("--model", default="", help="candidate model (default: each case's recorded model)")
        parser.add_argument("--api-key", default="", help="candidate key (default: $PEEKR_TARGET_API_KEY)")
        parser.add_argument("--request-template", default="", help="JSON body, or @file; {{input}} {{messages}}...")
        parser.add_argument("--response-path", default="", help="dotted path to the answer, e.g. data.answer")
        parser.add_argument("--judge-base-url", default="", help="default: PEEKR_JUDGE_BASE_URL")
        parser.add_argument(
            "--judge-api-key",
            default=os.environ.get("PEEKR_REGRESS_JUDGE_API_KEY", ""),
            help="the key for --judge-base-url (default: PEEKR_REGRESS_JUDGE_API_KEY; PEEKR_JUDGE_API_KEY is sent "
            "only to PEEKR_JUDGE_BASE_URL)",
        )
        parser.add_argument("--judge-model", default="", help="default: PEEKR_JUDGE_MODEL")
        parser.add_argument(
            "--strict-judges", action="store_true", help="every grader blocks, blocking evaluator or not"
        )
        parser.add_argument("--junit", default="peekr-regress.xml", help="JUnit XML path (default: %(default)s)")
        parser.add_argument("--name", default="", help="a label for the run (e.g. the CI job)")
        parser.add_argument("--timeout", type=float, default=60.0)

    def handle(self, *args, **o):

        from evals.judge_client import JudgeConfig

        golden_set = golden_set_lookup(o["golden_set"], o["project"])
        version = selectors.golden_version_get(golden_set=golden_set, number=o["version"])
        if version is None:
            raise CommandError(
                f"golden set {golden_set.name!r} has no version {o['version'] or ''}".strip(), returncode=2
            )
        template = o["request_template"]
        if template.startswith("@"):
            try:
                template = Path(template[1:]).read_text()
            except OSError as exc:
                raise CommandError(f"cannot read the request template: {exc}", returncode=2) from None
        if template:
            import json

            try:
                json.loads(template)
            except ValueError as exc:
                raise CommandError(f"--request-template is not JSON: {exc}", returncode=2) from None
        candidate = regress.Candidate(
            url=o["target"],
            model=o["model"],
            api_key=o["api_key"] or os.environ.get("PEEKR_TARGET_API_KEY", ""),
            request_template=template,
            response_path=o["response_path"],
            timeout_s=o["timeout"],
        )
        judge_url = o["judge_base_url"] or settings.PEEKR_JUDGE_BASE_URL
        judge_model = o["judge_model"] or settings.PEEKR_JUDGE_MODEL
        judge = None
        if judge_url and judge_model:
            if candidate.model and judge_model.lower() == candidate.model.lower():
                raise CommandError("the judge model may not judge its own output: pick another", returncode=2)
            # The operator's key goes to the operator's URL only; another URL gets --judge-api-key or no key.
            operator_url = judge_url == settings.PEEKR_JUDGE_BASE_URL
            key = o["judge_api_key"] or (settings.PEEKR_JUDGE_API_KEY if operator_url else "")
            judge = JudgeConfig(base_url=judge_url, api_key=key or "none", model=judge_model)
        from evals.selectors import blocking_evaluators

        thresholds, _ = selectors.gate_settings(project=golden_set.project)
        # The gate counts the project's blocking evaluators only (evals.modes); shadow and advisory are reported.
        blocking = blocking_evaluators(golden_set.project)
        judges = {name for name, kind, _ in blocking if kind == "semantic"}
        rules = {name for name, kind, _ in blocking if kind == "deterministic"}
        strict = o["strict_judges"]
        try:
            run = services.regression_run_execute(
                version=version,
                candidate=candidate,
                judge=judge,
                thresholds=thresholds,
                blocking_judges=None if strict else judges,
                blocking_rules=None if strict else rules,
                name=o["name"],
            )
        except regress.CandidateUnreachable as exc:
            raise CommandError(f"cannot reach the candidate: {exc}", returncode=2) from None

        outcomes = [regress.outcome_from_result(r) for r in selectors.run_results(run=run)]
        suite = f"peekr_regress {golden_set.name} v{version.number} ({candidate.model or 'recorded models'})"
        Path(o["junit"]).write_text(regress.junit_xml(suite, outcomes))
        self.stdout.write(regress.summary_table(outcomes))
        s = run.summary
        self.stdout.write(
            f"run {run.pk}: {s['passed']}/{s['total']} passed against {candidate.url}; JUnit: {o['junit']}"
        )
        if judge is None and any(g["type"] in regress.SEMANTIC for i in version.items.all() for g in i.graders):
            self.stderr.write("warning: no judge configured: semantic graders were not run")
        advisory = sorted({g["grader"] for x in outcomes for g in x.grader_results
                           if not g.get("blocking") and g.get("passed") is False})  # fmt: skip
        if advisory:
            self.stderr.write(
                f"advisory: {', '.join(advisory)} failed but did not gate (not blocking in project "
                f"{golden_set.project.name!r}: make them blocking on their rule's page, or pass --strict-judges)"
            )
        if run.status != run.Status.PASSED:
            self.stderr.write(f"regression: {s['failed']} case(s) failed: {', '.join(s['failed_cases'])}")
            raise SystemExit(1)
