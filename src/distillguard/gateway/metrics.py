"""Prometheus metrics of one gateway process (text format at ``/metrics``).

Label children are cached so that counting a request is a dict lookup and an increment.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["GatewayMetrics"]

_OVERHEAD_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1)


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._requests = Counter(
            "distillguard_gateway_requests",
            "Requests by endpoint, action and HTTP status",
            ("endpoint", "action", "status"),
            registry=self.registry,
        )
        self.overhead = Histogram(
            "distillguard_gateway_overhead_seconds",
            "Time spent in the gateway per request, upstream time excluded",
            buckets=_OVERHEAD_BUCKETS,
            registry=self.registry,
        )
        self.upstream_errors = Counter(
            "distillguard_gateway_upstream_errors",
            "Upstream connection failures and timeouts",
            ("kind",),
            registry=self.registry,
        )
        self.state_errors = Counter(
            "distillguard_gateway_state_errors",
            "Calls to the shared state store (Redis) that failed",
            registry=self.registry,
        )
        self.events_pending = Gauge(
            "distillguard_gateway_events_pending",
            "Events waiting for the writer thread",
            registry=self.registry,
        )
        self.events_written = Gauge(
            "distillguard_gateway_events_written",
            "Events written to the event log by this process",
            registry=self.registry,
        )
        self.enforcement_accounts = Gauge(
            "distillguard_gateway_enforcement_accounts",
            "Accounts on the loaded enforcement list",
            registry=self.registry,
        )
        self.online_pending = Gauge(
            "distillguard_gateway_online_pending",
            "Requests waiting for the online scorer process",
            registry=self.registry,
        )
        self.online_dropped = Gauge(
            "distillguard_gateway_online_dropped",
            "Requests the online scorer could not take (backlog full or process down)",
            registry=self.registry,
        )
        self.reloads = Counter(
            "distillguard_gateway_reloads",
            "Admin reloads by outcome",
            ("outcome",),
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, int], Callable[[], None]] = {}

    def count(self, endpoint: str, action: str, status: int) -> None:
        inc = self._children.get((endpoint, action, status))
        if inc is None:
            inc = self._requests.labels(endpoint, action, str(status)).inc
            self._children[(endpoint, action, status)] = inc
        inc()

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))
