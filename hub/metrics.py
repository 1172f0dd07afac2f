"""Prometheus metrics in a registry owned by one app (no global registration at import)."""
from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("hub_http_requests_total", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("hub_http_request_seconds", "HTTP request latency", ["route"],
                                 registry=self.registry)
        self.provider_calls = Counter("hub_provider_calls_total", "Provider calls", ["provider", "outcome"],
                                      registry=self.registry)
        self.refreshes = Counter("hub_token_refreshes_total", "Token refreshes", ["provider", "outcome"],
                                 registry=self.registry)
        self.jobs = Counter("hub_jobs_run_total", "Background jobs run by this process", ["job", "outcome"],
                            registry=self.registry)
        self.job_seconds = Histogram("hub_job_seconds", "Background job run time in this process", ["job"],
                                     registry=self.registry)

        # The labelled children of provider_calls, kept (prometheus_client's documented pattern
        # for hot paths): `labels()` validates and locks on every call. As many as the label
        # sets themselves (providers x outcomes).
        self._provider_call_children: dict[tuple[str, str], Any] = {}

    def provider_call(self, provider: str, outcome: str) -> None:
        """Count one provider call by its outcome (`ok` or the error kind)."""
        child = self._provider_call_children.get((provider, outcome))
        if child is None:
            child = self._provider_call_children[(provider, outcome)] = self.provider_calls.labels(provider, outcome)
        child.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
