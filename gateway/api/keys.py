"""Typed application state (aiohttp AppKeys) shared by the route modules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aiohttp import web

from gateway.bus import EventBus
from gateway.cluster import Cluster
from gateway.config.schema import Settings
from gateway.dialplan.runner import DialplanRunner
from gateway.journal import Journal
from gateway.metrics import Metrics
from gateway.recorder import CallRecorder
from gateway.store.store import Store
from gateway.voice import VoiceService

SETTINGS = web.AppKey("settings", Settings)
STORE = web.AppKey("store", Store)
BUS = web.AppKey("bus", EventBus)
CLUSTER = web.AppKey("cluster", Cluster)
METRICS = web.AppKey("metrics", Metrics)
DIALPLANS = web.AppKey("dialplans", DialplanRunner)
VOICE = web.AppKey("voice", VoiceService)
JOURNAL = web.AppKey("journal", Journal)
RECORDER = web.AppKey("recorder", CallRecorder)
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("clock")
