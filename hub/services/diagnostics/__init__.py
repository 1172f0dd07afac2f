"""Diagnostics for support: why a user's calendar or conferencing connection broke, in plain
words with the fix (flow 3 of DESIGN.md).

- `DiagnosticsService.diagnose_user` / `diagnose_connection`: refresh, probe, apply the rules,
  write the health record, return a `Report`;
- `explain_error`: classify a pasted provider error body.

Modules: `model` (checks, report, snapshots), `providers` (finding each provider's diagnostics
module), `probing` (the concurrent levels), `rules` (pure), `health` (the record written back),
`explain`, `service` (the flow).
"""
from hub.services.diagnostics.explain import UnknownProvider, explain_error
from hub.services.diagnostics.model import Check, Report
from hub.services.diagnostics.service import DiagnosticsService

__all__ = ["Check", "DiagnosticsService", "Report", "UnknownProvider", "explain_error"]
