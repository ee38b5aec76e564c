"""Export a golden set version as JSONL or as a self-contained pytest file."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotations import exporters, selectors
from annotations.management.commands.peekr_regress import golden_set_lookup


class Command(BaseCommand):
    help = "Export a golden set (latest version unless --version) as JSONL or as a pytest file."

    def create_parser(self, prog_name, subcommand, **kwargs):
        # --version is the golden set's version (the interface), not Django's own version flag.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("--golden-set", required=True)
        parser.add_argument("--project")
        parser.add_argument("--version", type=int)
        parser.add_argument("--format", choices=("jsonl", "pytest"), default="jsonl")
        parser.add_argument("--output", "-o", help="file to write (default: stdout for jsonl, test_golden_<name>.py)")

    def handle(self, *args, **o):
        golden_set = golden_set_lookup(o["golden_set"], o["project"])
        version = selectors.golden_version_get(golden_set=golden_set, number=o["version"])
        if version is None:
            raise CommandError(f"golden set {golden_set.name!r} has no such version", returncode=2)
        cases = [i.as_case() for i in selectors.golden_items(version=version)]
        if o["format"] == "jsonl":
            text = exporters.cases_to_jsonl(cases)
            output = o["output"]
        else:
            text = exporters.cases_to_pytest(name=golden_set.name, version=version.number, cases=cases)
            output = o["output"] or exporters.pytest_module_name(golden_set.name)
        if output:
            Path(output).write_text(text)
            self.stderr.write(f"wrote {len(cases)} case(s) of {golden_set.name} v{version.number} to {output}")
        else:
            self.stdout.write(text, ending="")
