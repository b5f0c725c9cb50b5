"""Composition root: ``make_app(settings)`` wires every subsystem into one aiohttp app.

Each subsystem is a ``cleanup_ctx`` (set up before ``yield``, torn down after,
in reverse order), so a failing start never leaves half-started parts behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web
from sqlalchemy.exc import OperationalError

from gateway.advisor import SpeechAdvisor
from gateway.api import (
    routes_acknowledgements,
    routes_alarms,
    routes_events,
    routes_recordings,
    routes_sessions,
    routes_stations,
    routes_system,
)
from gateway.api.errors import ApiError, NotFoundError, storage_unavailable
from gateway.api.keys import (
    BUS,
    CLOCK,
    CLUSTER,
    DIALPLANS,
    JOURNAL,
    METRICS,
    RECORDER,
    SETTINGS,
    STORE,
    VOICE,
)
from gateway.audit import routes as audit_routes
from gateway.backoffice import routes as backoffice_routes
from gateway.backoffice import routes_agents as backoffice_agents
from gateway.backoffice import routes_privacy as backoffice_privacy
from gateway.backoffice import routes_users as backoffice_users
from gateway.backups import BackupCentres
from gateway.bus import EventBus
from gateway.cluster import Cluster, default_instance_id
from gateway.config.schema import Settings
from gateway.dc09.sender import Dc09Sender
from gateway.dialplan.events import CueDetected
from gateway.dialplan.library import DialplanLibrary
from gateway.dialplan.runner import DialplanRunner
from gateway.journal import Journal
from gateway.managers import ManagerNotifier
from gateway.metrics import Metrics
from gateway.outbox.events import OutboxEvent
from gateway.outbox.runner import OutboxRunner, Sink
from gateway.recorder import CallRecorder, purge, purge_transcripts
from gateway.sip.supervisor import SipSupervisor
from gateway.speech.service import SpeechConfig, SpeechService
from gateway.speech.stt import SttKind
from gateway.speech.vad import VadKind
from gateway.speech.worker import EngineConfig
from gateway.store.store import Store
from gateway.voice import VoiceService
from gateway.web.install import install as install_console
from gateway.webhook.sender import WebhookSender

log = logging.getLogger("gateway.api")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def utc_now() -> datetime:
    return datetime.now(UTC)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure becomes a JSON answer; an unexpected one is logged, never fatal."""
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except OperationalError as exc:  # locked past the busy timeout, disk full, database gone
        refusal = storage_unavailable(exc)
        log.error(refusal.message, extra={"path": request.path, "method": request.method})
        return refusal.response()
    except web.HTTPException as exc:
        if exc.status == 404:
            return NotFoundError(f"no route {request.method} {request.path}").response()
        if exc.status < 400:
            raise
        error = ApiError(exc.reason)
        error.status = exc.status
        error.code = "refused"
        return error.response()
    except Exception:
        log.exception("unhandled error", extra={"path": request.path, "method": request.method})
        error = ApiError("internal error; the request was not completed")
        error.status = 500
        error.code = "refused"
        return error.response()


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if not settings.database.url:
        settings.gateway.data_dir.mkdir(parents=True, exist_ok=True)
    store = await Store.open(
        settings.database_url(),
        reference_base=settings.gateway.public_url,
        sqlite_synchronous=settings.database.sqlite_synchronous,
        pool_size=settings.database.pool_size,
    )
    app[STORE] = store
    app[JOURNAL] = Journal(store, app[BUS], app[CLOCK])
    database = settings.database
    cluster = Cluster(
        app[JOURNAL],
        database.instance_id or default_instance_id(settings.http.port),
        heartbeat_s=database.heartbeat_s,
        takeover_after_s=database.takeover_after_s,
        voice_callback=lambda alarm_id: app[VOICE].callback_phone(alarm_id),
        live_call=lambda alarm_id: app[VOICE].phone_call(alarm_id),
    )
    try:
        await cluster.start(settings.database_url())
    except BaseException:
        await store.close()
        raise
    app[CLUSTER] = cluster
    yield
    await cluster.stop()
    await store.close()


async def _resume_alarms(app: web.Application) -> None:
    """Once every part runs: escalate the open alarms this instance owns, watch the others."""
    await app[CLUSTER].resume()


async def _outbox_ctx(app: web.Application) -> AsyncIterator[None]:
    """Senders to the monitoring centre and webhooks, fed by the durable outbox."""
    settings, metrics = app[SETTINGS], app[METRICS]
    sinks: dict[str, Sink] = {}
    senders: list[Dc09Sender | WebhookSender] = []
    if settings.dc09 is not None:

        def link_changed(up: bool, reason: str) -> None:
            metrics.dc09_link_up.set(1 if up else 0)
            if up:
                log.warning("monitoring-centre link restored: %s", reason)
            else:
                log.error("monitoring-centre link LOST: %s", reason)
            app[BUS].publish({"type": "system", "dc09_link_up": up, "reason": reason})

        dc09 = Dc09Sender(settings.dc09, on_link_change=link_changed)
        metrics.dc09_link_up.set(1)
        senders.append(dc09)
        sinks["dc09"] = dc09
    for number, hook in enumerate(settings.webhooks, start=1):
        sender = WebhookSender(hook)
        senders.append(sender)
        sinks[f"webhook:{number}"] = sender
    for started in senders:
        await started.start()
    runner = OutboxRunner(app[STORE], sinks, metrics, wants=_wants(sinks), lease=app[CLUSTER].lease)
    await runner.start()
    yield
    await runner.stop()
    for stopped in reversed(senders):
        await stopped.stop()


async def _voice_ctx(app: web.Application) -> AsyncIterator[None]:
    """The SIP workers, supervised; their calls attached to alarms."""
    voice = VoiceService(app[JOURNAL], app[METRICS])
    app[VOICE] = voice
    if app[SETTINGS].voice.enabled:
        supervisor = SipSupervisor(app[SETTINGS].sip, voice)
        voice.supervisor = supervisor
        await supervisor.start()
        if app[SETTINGS].sip.base_port == 0:  # ports chosen by the OS: tell phones the real one
            voice.sip_uri = (
                f"sip:alarm@{app[SETTINGS].sip.bind_address}:{supervisor.worker_ports()[0]}"
            )
        log.info("SIP workers listening", extra={"ports": supervisor.worker_ports()})
    yield
    if voice.supervisor is not None:
        await voice.supervisor.stop()


async def _recording_ctx(app: web.Application) -> AsyncIterator[None]:
    """Record alarm calls; purge recordings past their retention, logging each removal."""
    settings = app[SETTINGS]
    recorder = CallRecorder(settings.gateway.data_dir / "recordings", app[CLOCK])
    app[RECORDER] = recorder
    app[VOICE].add_audio_listener(recorder.phone_audio, ended=recorder.call_ended)

    async def purge_forever() -> None:
        while True:
            await asyncio.to_thread(purge, recorder.directory, settings.recording.retention_days)
            await asyncio.sleep(settings.recording.purge_interval_s)

    purger = asyncio.create_task(purge_forever(), name="recording-purge")
    yield
    purger.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await purger
    await asyncio.to_thread(recorder.close_all)


async def _transcript_retention_ctx(app: web.Application) -> AsyncIterator[None]:
    """Blank the words of transcripts past their retention, whether speech runs or not."""
    settings = app[SETTINGS]

    async def purge_forever() -> None:
        while True:
            retention = settings.speech.transcript_retention_days
            try:
                await purge_transcripts(app[STORE], retention, app[CLOCK]())
            except Exception:  # the next round tries again; alarms never wait on this
                log.exception("transcript purge failed")
            await asyncio.sleep(settings.recording.purge_interval_s)

    purger = asyncio.create_task(purge_forever(), name="transcript-purge")
    yield
    purger.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await purger


async def _speech_ctx(app: web.Application) -> AsyncIterator[None]:
    """Speech analysis of alarm calls; a missing model degrades it, never the alarms."""
    settings = app[SETTINGS].speech
    service = SpeechService(
        SpeechConfig(
            engine=EngineConfig(
                stt=SttKind(settings.engine),
                vad=VadKind(settings.vad),
                whisper_models=settings.whisper_models,
                vosk_models=settings.vosk_models,
                preload=(settings.language,),
            ),
            workers=settings.workers,
        )
    )
    await service.start()
    if not service.available:
        log.error(
            "speech analysis unavailable, alarms and calls go on without it: %s",
            service.unavailable_reason,
        )

    def distress(alarm_id: str, evidence: str) -> None:
        runner = app.get(DIALPLANS)
        if runner is not None:
            runner.feed(alarm_id, CueDetected("distress", evidence))

    advisor = SpeechAdvisor(
        service,
        app[JOURNAL],
        language=lambda alarm_id: app[VOICE].language(alarm_id) or settings.language,
        on_distress=distress,
    )
    app[VOICE].add_audio_listener(advisor.on_audio, ended=advisor.call_ended)
    yield
    advisor.close_all()
    await service.stop()


async def _dialplan_ctx(app: web.Application) -> AsyncIterator[None]:
    """Routing and escalation; SIGHUP reloads the plans, keeping the old ones if broken."""
    library = DialplanLibrary(app[SETTINGS].dialplan.directory)  # broken at start: refuse
    secret = app[SETTINGS].dialplan.manager_webhook_secret
    notifier = None
    if secret is not None:
        notifier = ManagerNotifier(
            secret.get_secret_value().encode(), app[SETTINGS].gateway.public_url
        )
        await notifier.start()
    backups = BackupCentres(app[STORE], app[SETTINGS].dc09_backups)
    await backups.start()
    runner = DialplanRunner(
        library,
        app[JOURNAL],
        voice=app[VOICE],
        webhook=notifier,
        backups=backups,
        hears_voice=app[SETTINGS].speech.enabled,
    )
    app[DIALPLANS] = runner
    app[METRICS].dialplan_backlog.set_function(runner.backlog)

    def reload() -> None:
        issues = library.reload()
        for issue in issues:
            log.error("dialplan reload refused, the running plan stays: %s", issue)
        if not issues:
            log.info("dialplans reloaded", extra={"generation": library.generation})

    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGHUP, reload)
    await runner.start()
    app[CLUSTER].on_adopt(runner.adopt)
    yield
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.remove_signal_handler(signal.SIGHUP)
    await runner.stop()
    await backups.stop()
    if notifier is not None:
        await notifier.stop()


def _wants(sinks: dict[str, Sink]) -> Callable[[str, OutboxEvent], bool]:
    """Webhooks take the kinds they subscribe to; pilot alarms never reach a receiver."""

    def wants(name: str, event: OutboxEvent) -> bool:
        sink = sinks[name]
        if isinstance(sink, Dc09Sender):
            return not event.payload.get("pilot", False)
        return not isinstance(sink, WebhookSender) or sink.wants(event)

    return wants


def make_app(settings: Settings, clock: Callable[[], datetime] = utc_now) -> web.Application:
    app = web.Application(
        middlewares=[error_middleware], client_max_size=settings.http.max_body_bytes
    )
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app[BUS] = EventBus()
    app[METRICS] = Metrics()
    app.cleanup_ctx.append(_store_ctx)
    app.cleanup_ctx.append(_outbox_ctx)
    app.cleanup_ctx.append(_voice_ctx)
    app.cleanup_ctx.append(_transcript_retention_ctx)
    if settings.recording.enabled:
        app.cleanup_ctx.append(_recording_ctx)
    if settings.speech.enabled:
        app.cleanup_ctx.append(_speech_ctx)
    if settings.dialplan.enabled:
        app.cleanup_ctx.append(_dialplan_ctx)
    app.on_startup.append(_resume_alarms)
    for module in (
        routes_alarms,
        routes_sessions,
        routes_events,
        routes_stations,
        routes_recordings,
        routes_acknowledgements,
        routes_system,
        backoffice_routes,
        audit_routes,
        backoffice_agents,
        backoffice_users,
        backoffice_privacy,
    ):
        app.add_routes(module.routes)
    install_console(app)
    return app
