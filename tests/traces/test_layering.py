"""traces is the bottom app: evals, insights and annotations build on it and register what they add
(traces.pipeline, traces.extensions); no module under traces/ imports them, and its templates load none of
their template tags."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UPPER = ("evals", "insights", "annotations")


def upper(module: str) -> bool:
    return module.split(".")[0] in UPPER


def imported_modules(tree: ast.AST) -> list[str]:
    """Every module an Import, ImportFrom (at any depth: inside functions too) or import_module("...") names."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
            "import_module",
            "__import__",
        ):
            found += [a.value for a in node.args[:1] if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    return found


def test_no_module_under_traces_imports_an_app_above_it():
    offenders = []
    for path in sorted((ROOT / "traces").rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        offenders += [f"{path.relative_to(ROOT)}: {m}" for m in imported_modules(tree) if upper(m)]
    assert offenders == []


def test_the_check_sees_imports_inside_functions():
    tree = ast.parse("def f():\n    from evals.selectors import x\n    import insights.views\n")
    assert [m for m in imported_modules(tree) if upper(m)] == ["evals.selectors", "insights.views"]


def test_traces_templates_load_no_tags_of_the_apps_above():
    libraries = {p.stem for app in UPPER for p in (ROOT / app).glob("templatetags/*.py") if p.stem != "__init__"}
    assert libraries  # e.g. insights_tags: the check has something to look for
    offenders = []
    for path in sorted((ROOT / "templates" / "traces").rglob("*.html")):
        for load in re.findall(r"{%\s*load\s+([^%]+?)\s*%}", path.read_text()):
            offenders += [f"{path.name}: {lib}" for lib in load.split() if lib in libraries]
    assert offenders == []


# Every app builds only on those before it; an app reaches one above it only through a hook list the upper app
# fills in its ready() (docs/architecture.md, "Explorer reads").
ORDER = (
    "traces", "evals", "insights", "annotations", "signals", "metrics", "alerts", "releases", "regressions",
    "otelmetrics",
)  # fmt: skip


def test_no_app_imports_an_app_above_it():
    offenders = []
    for level, app in enumerate(ORDER):
        above = set(ORDER[level + 1 :])
        for path in sorted((ROOT / app).rglob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            offenders += [f"{path.relative_to(ROOT)}: {m}" for m in imported_modules(tree) if m.split(".")[0] in above]
    assert offenders == []
