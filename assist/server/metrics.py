"""Prometheus metrics for one server instance (its own registry, so tests can run several servers)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.events_in = Counter("assist_events_in", "Events received on /ingest, by result",
                                 ["result"], registry=r)
        self.prompts_out = Counter("assist_prompts_out", "Prompts raised by the engine", registry=r)
        self.messages_out = Counter("assist_messages_out", "Messages queued to sidebar/supervisor sockets",
                                    registry=r)
        self.dropped = Counter("assist_messages_dropped", "Messages dropped from full socket queues",
                               registry=r)
        self.feedback = Counter("assist_feedback", "Sidebar feedback on prompts", ["rule", "action"],
                                registry=r)
        self.open_calls = Gauge("assist_open_calls", "Calls open in the engine", registry=r)
        self.connections = Gauge("assist_connections", "Open websocket connections", ["role"], registry=r)
        self.latency = Histogram("assist_ingest_to_send_seconds",
                                 "From an event arriving on /ingest to its prompt being sent to a socket",
                                 buckets=LATENCY_BUCKETS, registry=r)

        # the children counted per event, bound once (`labels()` costs more than the count itself)
        self.accepted, self.refused, self.duplicates = (self.events_in.labels(result)
                                                        for result in ("accepted", "error", "duplicate"))
        self.gc_pause = Histogram("assist_gc_full_seconds", "Scheduled full garbage collections",
                                  buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 1.0), registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
