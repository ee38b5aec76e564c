"""A comparison as text (peekr_canary's table) and as JUnit XML (one test case per blocking check): pure."""

from __future__ import annotations

import xml.etree.ElementTree as ET


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "%":
        return f"{value * 100:.1f} %"
    if unit == "ms":
        return f"{value:.0f} ms"
    if unit == "$":
        return f"${value:.5f}"
    return f"{value:.3f}"


def table_text(comparison: dict) -> str:
    """The side-by-side table, the checks and the verdict, for a terminal."""
    b, c, v = comparison["baseline"], comparison["candidate"], comparison["verdict"]
    window = comparison["window"]
    lines = [
        f"baseline {b['version']} ({b['traffic']}) vs candidate {c['version']} ({c['traffic']}), "
        f"{window['start']:%Y-%m-%d %H:%M} .. {window['end']:%Y-%m-%d %H:%M} UTC",
        "",
        f"{'metric':<34} {'baseline':>14} {'candidate':>14}",
        f"{'traces':<34} {b['traces']:>14} {c['traces']:>14}",
        f"{'traffic share':<34} {fmt(b['share'], '%'):>14} {fmt(c['share'], '%'):>14}",
    ]
    for row in comparison["rows"]:
        label = ("* " if row["blocking"] else "") + row["label"]
        lines.append(
            f"{label[:34]:<34} {fmt(row['baseline'], row['unit']):>14} {fmt(row['candidate'], row['unit']):>14}"
        )
    lines.append("")
    for check in v["checks"]:
        lines.append(f"[{check['status']}] {check['evaluator']} ({check['kind']}): {check['reason']}")
        lines.extend(f"    example: {e['url']}" for e in check.get("examples", []))
    lines.append("")
    needed = v.get("needed")
    more = ""
    if v["status"] == "not_enough_data" and needed:
        eta = f", about {needed['eta_minutes']:g} min at the current rate" if needed.get("eta_minutes") else ""
        more = f" ({needed['traces']} more {needed['side']} traces needed{eta})"
    lines.append(f"verdict: {v['status'].upper()}: {v['reason']}{more}")
    return "\n".join(lines) + "\n"


def junit_xml(comparison: dict) -> str:
    """One testsuite for the comparison, one testcase per blocking check: a failure names the check, its test
    and figures, and links the candidate's worst traces; not enough data is a skipped case."""
    b, c, v = comparison["baseline"], comparison["candidate"], comparison["verdict"]
    checks = v["checks"] or [{"evaluator": "traffic", "kind": "", "status": v["status"], "reason": v["reason"]}]
    if c["traces"] == 0:
        checks = [{"evaluator": "traffic", "kind": "", "status": v["status"], "reason": v["reason"]}]
    failures = sum(1 for x in checks if x["status"] == "fail")
    skipped = sum(1 for x in checks if x["status"] in ("not_enough_data", "not_applicable"))
    suite = ET.Element("testsuite", name=f"peekr.canary {c['version']} vs {b['version']}", tests=str(len(checks)),
                       failures=str(failures), errors="0", skipped=str(skipped))  # fmt: skip
    for check in checks:
        case = ET.SubElement(suite, "testcase", classname="peekr.canary", name=check["evaluator"])
        if check["status"] == "fail":
            message = f"{check['evaluator']}: {check['reason']}"
            links = "\n".join(f"{e['trace_id']} {e['url']}" for e in check.get("examples", []))
            ET.SubElement(
                case, "failure", message=message[:500]
            ).text = f"{message}\n\nexample traces:\n{links or '(none found)'}"
        elif check["status"] == "not_enough_data":
            ET.SubElement(case, "skipped", message=f"not enough data: {check['reason']}"[:500])
        elif check["status"] == "not_applicable":
            ET.SubElement(case, "skipped", message=f"not applicable: {check['reason']}"[:500])
    ET.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"
