"""Monitor and channel writes: validation, creation, changes, the built-in monitors of a new project.

Every refusal is an `alerts.monitors.MonitorInvalid` (an AppError: the API answers 400 with its text, the pages
show it next to the form).
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from alerts import verdict
from alerts.delivery import ALLOW_SETTING
from alerts.models import Channel, Monitor
from evals.judge_net import url_refusal
from metrics.accumulators import metric_def
from metrics.models import DIMENSIONS
from peekr_web.errors import Invalid
from traces.models import Membership, Project

BUILTIN_MONITORS = [
    ("Faithfulness", "score:faithfulness"),
    ("Answer relevancy", "score:answer_relevancy"),
    ("PII rule pass rate", "pass:pii"),
    ("Tool-failure rate", "tool_failure_rate"),
    ("Thumbs-down rate", "thumbs_down_rate"),
    ("Latency p95", "latency_p95_ms"),
    ("Cost per trace", "cost_per_trace"),
]
FILTER_DIMS = tuple(d for d in DIMENSIONS if d != "all")
THRESHOLD_FIELDS = ("review_sigma", "page_sigma", "sustain_count", "min_sample", "factor")


class MonitorInvalid(Invalid, ValueError):
    """A monitor or a channel the project cannot have as asked."""


def _direction(metric: str, direction: str | None) -> str:
    if direction in (None, ""):
        return Monitor.Direction.DOWN if metric_def(metric).higher_is_better else Monitor.Direction.UP
    if direction not in Monitor.Direction.values:
        raise MonitorInvalid(f"direction must be 'down' or 'up' (the way that is bad), got {direction!r}")
    return direction


def _clean_filter(value: Any) -> dict:
    if value in (None, {}):
        return {}
    if not isinstance(value, dict) or len(value) != 1:
        raise MonitorInvalid('filter must be {} or one dimension, e.g. {"release": "2.4.1"}')
    ((dim, v),) = value.items()
    if dim not in FILTER_DIMS:
        raise MonitorInvalid(f"filter dimension must be one of {', '.join(FILTER_DIMS)}, got {dim!r}")
    if not isinstance(v, str) or not v.strip() or len(v) > 200:
        raise MonitorInvalid(f"filter value of {dim} must be a non-empty text of at most 200 characters")
    return {dim: v.strip()}


def _clean_url(url: str, what: str, *, required: bool) -> str:
    url = (url or "").strip()
    if not url:
        if required:
            raise MonitorInvalid(f"{what} is required")
        return ""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a port that is not a number)
    except ValueError as exc:
        raise MonitorInvalid(f"{what} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        raise MonitorInvalid(f"{what} must be an http:// or https:// URL with a host, got {url[:200]!r}")
    if len(url) > 2000:
        raise MonitorInvalid(f"{what} must be at most 2000 characters")
    return url


def _clean_thresholds(values: dict) -> dict:
    for name in ("review_sigma", "page_sigma", "factor"):
        v = values[name]
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
            raise MonitorInvalid(f"{name} must be a positive finite number, got {v!r}")
    problem = verdict.thresholds_problem(
        review_sigma=values["review_sigma"],
        page_sigma=values["page_sigma"],
        sustain_count=values["sustain_count"],
        min_sample=values["min_sample"],
    )
    if problem:
        raise MonitorInvalid(problem)
    return values


def _members(project: Project, usernames: list[str] | None) -> list:
    if not usernames:
        return []
    users = list(
        get_user_model().objects.filter(
            username__in=usernames, pk__in=Membership.objects.filter(project=project).values("user_id")
        )
    )
    missing = sorted(set(usernames) - {u.username for u in users})
    if missing:
        raise MonitorInvalid(f"owners must be members of the project: {', '.join(missing)} is not")
    return users


def _channels(project: Project, ids: list[int] | None) -> list[Channel]:
    if not ids:
        return []
    found = list(Channel.objects.filter(project=project, pk__in=ids))
    missing = sorted(set(ids) - {c.pk for c in found})
    if missing:
        raise MonitorInvalid(f"no channel {missing[0]} in this project")
    return found


def monitor_create(
    *,
    project: Project,
    name: str,
    metric: str,
    kind: str = Monitor.Kind.METRIC,
    filter: dict | None = None,
    direction: str | None = None,
    runbook_url: str = "",
    owners: list[str] | None = None,
    channels: list[int] | None = None,
    review_sigma: float = verdict.REVIEW_SIGMA,
    page_sigma: float = verdict.PAGE_SIGMA,
    sustain_count: int = verdict.SUSTAIN_COUNT,
    min_sample: int = verdict.MIN_SAMPLE,
    factor: float = verdict.USER_COST_FACTOR,
    enabled: bool = True,
) -> Monitor:
    """Create a monitor; refuses an unknown metric, a bad filter, bad thresholds, owners who are not members."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise MonitorInvalid("a monitor needs a name of at most 100 characters")
    if kind not in Monitor.Kind.values:
        raise MonitorInvalid(f"kind must be 'metric' or 'user_cost', got {kind!r}")
    if kind == Monitor.Kind.USER_COST:
        metric, filter = "cost_per_user", {}
    if metric_def(metric or "") is None:
        raise MonitorInvalid(
            f"unknown metric {metric!r}: use one of the fixed metrics (e.g. cost_per_trace, latency_p95_ms) "
            "or score:<evaluator> / pass:<evaluator>"
        )
    values = _clean_thresholds(
        {
            "review_sigma": review_sigma,
            "page_sigma": page_sigma,
            "sustain_count": sustain_count,
            "min_sample": min_sample,
            "factor": factor,
        }
    )
    monitor = Monitor(
        project=project,
        name=name,
        kind=kind,
        metric=metric,
        filter=_clean_filter(filter),
        direction=_direction(metric, direction) if kind == Monitor.Kind.METRIC else Monitor.Direction.UP,
        runbook_url=_clean_url(runbook_url, "runbook_url", required=False),
        enabled=enabled,
        **values,
    )
    users, found = _members(project, owners), _channels(project, channels)
    with transaction.atomic():
        if Monitor.objects.filter(project=project, name=name).exists():
            raise MonitorInvalid(f"a monitor named {name!r} already exists")
        monitor.save()
        monitor.owners.set(users)
        monitor.channels.set(found)
    return monitor


def monitor_update(*, monitor: Monitor, **changes) -> Monitor:
    """Change a monitor's name, filter, direction, runbook, owners, channels, thresholds or enabled flag. A
    change of what is measured starts its evaluation state again."""
    project = monitor.project
    if "name" in changes:
        name = (changes.pop("name") or "").strip()
        if not name or len(name) > 100:
            raise MonitorInvalid("a monitor needs a name of at most 100 characters")
        if Monitor.objects.filter(project=project, name=name).exclude(pk=monitor.pk).exists():
            raise MonitorInvalid(f"a monitor named {name!r} already exists")
        monitor.name = name
    reset = False
    if "metric" in changes and monitor.kind == Monitor.Kind.METRIC:
        metric = changes.pop("metric")
        if metric_def(metric or "") is None:
            raise MonitorInvalid(f"unknown metric {metric!r}")
        reset, monitor.metric = metric != monitor.metric, metric
    if "filter" in changes:
        new = _clean_filter(changes.pop("filter"))
        reset, monitor.filter = reset or new != monitor.filter, new
    if "direction" in changes:
        monitor.direction = _direction(monitor.metric, changes.pop("direction"))
    if "runbook_url" in changes:
        monitor.runbook_url = _clean_url(changes.pop("runbook_url"), "runbook_url", required=False)
    values = _clean_thresholds(
        {f: changes.pop(f) if changes.get(f) is not None else getattr(monitor, f) for f in THRESHOLD_FIELDS}
    )
    for f, v in values.items():
        setattr(monitor, f, v)
    if changes.get("enabled") is not None:
        monitor.enabled = bool(changes.pop("enabled"))
    owners = changes.pop("owners", None)
    channels = changes.pop("channels", None)
    users = _members(project, owners) if owners is not None else None
    found = _channels(project, channels) if channels is not None else None
    if reset:
        monitor.consecutive, monitor.last_verdict, monitor.last_value, monitor.last_baseline = 0, "", None, None
    with transaction.atomic():
        monitor.save()
        if users is not None:
            monitor.owners.set(users)
        if found is not None:
            monitor.channels.set(found)
    return monitor


def monitor_delete(*, monitor: Monitor) -> None:
    monitor.delete()


def monitors_builtin_create(project: Project) -> None:
    """The built-in monitors of a new project (traces.extensions.project_created_hooks)."""
    Monitor.objects.bulk_create(
        [
            Monitor(
                project=project,
                name=name,
                metric=metric,
                direction=_direction(metric, None),
                is_builtin=True,
            )
            for name, metric in BUILTIN_MONITORS
        ],
        ignore_conflicts=True,
    )


def _clean_emails(emails: Any) -> list[str]:
    if isinstance(emails, str):
        emails = [e for e in emails.replace(";", ",").replace("\n", ",").split(",")]
    if not isinstance(emails, list):
        raise MonitorInvalid("emails must be a list of addresses")
    out = [str(e).strip() for e in emails if str(e).strip()]
    if not out or len(out) > 50:
        raise MonitorInvalid("an email channel needs from 1 to 50 addresses")
    for e in out:
        try:
            validate_email(e)
        except ValidationError:
            raise MonitorInvalid(f"not an email address: {e[:200]!r}") from None
    return out


def channel_create(
    *, project: Project, name: str, kind: str, url: str = "", emails: Any = None, enabled: bool = True
) -> Channel:
    """A webhook (JSON signed with HMAC-SHA256), a Slack incoming webhook or an email channel."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise MonitorInvalid("a channel needs a name of at most 100 characters")
    if kind not in Channel.Kind.values:
        raise MonitorInvalid(f"kind must be one of webhook, slack, email, got {kind!r}")
    channel = Channel(project=project, name=name, kind=kind, enabled=enabled)
    if kind == Channel.Kind.EMAIL:
        channel.emails = _clean_emails(emails)
    else:
        channel.url = _clean_url(url, "url", required=True)
        refusal = url_refusal(channel.url, allow_private=settings.PEEKR_WEBHOOK_ALLOW_PRIVATE, setting=ALLOW_SETTING)
        if refusal:
            raise MonitorInvalid(f"url: {refusal}")
        channel.secret = Channel.new_secret() if kind == Channel.Kind.WEBHOOK else ""
    with transaction.atomic():
        if Channel.objects.filter(project=project, name=name).exists():
            raise MonitorInvalid(f"a channel named {name!r} already exists")
        channel.save()
    return channel


def channel_delete(*, channel: Channel) -> None:
    channel.delete()
