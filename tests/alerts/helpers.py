"""An alert with a known payload, for the channel formatting tests."""

from alerts import payload as payloads
from alerts.models import Alert, Monitor


def known_alert(project) -> Alert:
    monitor = Monitor.objects.get(project=project, metric="score:faithfulness")
    body = payloads.test_payload(payloads.monitor_summary(monitor))
    body["runbook_url"] = "https://wiki.example.com/runbooks/faithfulness"
    body["deploys"] = [{"version": "2.4.1", "environment": "prod", "at": "2026-03-10T05:00:00+00:00",
                        "description": "new retriever", "commit": "abc123"}]  # fmt: skip
    body["worst_traces"] = [
        {"trace_id": "a" * 32, "name": "answer", "start_time": None, "release": "2.4.1", "user_id": "", "cost": 0.0,
         "url": f"http://localhost:8000/p/{project.pk}/traces/{'a' * 32}"},
    ]  # fmt: skip
    body["moved_most"] = {"dim": "release", "value": "2.4.1", "mean_24h": 0.61, "baseline": 0.83, "n": 300,
                          "text": "release 2.4.1: 0.61 vs 0.83"}  # fmt: skip
    return Alert.objects.create(project=project, monitor=monitor, payload=body)
