"""Prometheus metrics for what the people running the service watch."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """One registry per application, so tests and several apps never collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.alarms_received = Counter(
            "gateway_alarms_received_total",
            "Alarms accepted and stored.",
            ["type", "channel"],
            registry=self.registry,
        )
        self.alarm_requests_rejected = Counter(
            "gateway_alarm_requests_rejected_total",
            "Alarm API requests refused, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.alarm_accept_seconds = Histogram(
            "gateway_alarm_accept_seconds",
            "Time to validate and durably store a new alarm.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=self.registry,
        )
        self.open_alarms = Gauge(
            "gateway_open_alarms", "Alarms not yet closed.", registry=self.registry
        )
        self.outbox_pending = Gauge(
            "gateway_outbox_pending",
            "Events not yet delivered, per sink.",
            ["sink"],
            registry=self.registry,
        )
        self.outbox_failures = Counter(
            "gateway_outbox_delivery_failures_total",
            "Failed delivery attempts.",
            ["sink", "reason"],
            registry=self.registry,
        )
        self.outbox_dead_letters = Counter(
            "gateway_outbox_dead_letters_total",
            "Events set aside because the receiver kept refusing them.",
            ["sink"],
            registry=self.registry,
        )
        self.outbox_delivery_seconds = Histogram(
            "gateway_outbox_delivery_seconds",
            "Time from sending to acknowledgement.",
            ["sink"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
            registry=self.registry,
        )
        self.dc09_link_up = Gauge(
            "gateway_dc09_link_up",
            "1 while a monitoring-centre receiver answers.",
            registry=self.registry,
        )
        self.caller_audio_dropped = Counter(
            "gateway_sip_caller_frames_dropped_total",
            "20 ms frames of caller audio a SIP worker dropped: the main process was stalled.",
            registry=self.registry,
        )
        self.dialplan_backlog = Gauge(
            "gateway_dialplan_backlog",
            "Inputs waiting for the dialplan runner; a growing backlog delays escalation.",
            registry=self.registry,
        )
        self.calls_refused = Counter(
            "gateway_sip_calls_refused_total",
            "Incoming calls refused (unknown caller).",
            registry=self.registry,
        )
        self.event_stream_clients = Gauge(
            "gateway_event_stream_clients",
            "Connected live event stream clients.",
            registry=self.registry,
        )
