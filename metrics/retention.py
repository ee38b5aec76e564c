"""Retention of the rollups (traces.extensions.retention_purge_hooks): a project's hourly rollups and user costs
go with its record tier (365 days by default). Per-trace shares go with their traces."""

from metrics.models import Rollup, UserCost


def rollups_purge(project, cutoff, *, dry_run: bool = False) -> dict[str, int]:
    out = {}
    for label, model in (("rollups", Rollup), ("user_costs", UserCost)):
        old = model.objects.filter(project=project, hour__lt=cutoff)
        out[label] = old.count() if dry_run else old.delete()[0]
    return out
