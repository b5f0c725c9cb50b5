"""aiohttp client that POSTs signed outbox events; the outbox's webhook sender."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from types import TracebackType

import aiohttp

from gateway.dc09.errors import SenderClosedError
from gateway.outbox.errors import DeliveryError
from gateway.outbox.events import OutboxEvent
from gateway.webhook.config import WebhookConfig
from gateway.webhook.signing import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    event_body,
    signature_header,
)

log = logging.getLogger("gateway.webhook")

RETRYABLE_4XX = frozenset({408, 425, 429})
"""Client errors that mean "later", not "never"."""


class WebhookRejectedError(DeliveryError):
    """The endpoint answered with a non-2xx status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status
        self.permanent = 400 <= status < 500 and status not in RETRYABLE_4XX


class WebhookUnreachableError(DeliveryError):
    """No HTTP answer: connection refused, DNS, TLS or time-out."""


class WebhookSender:
    """POSTs each event as signed JSON; ``deliver`` returns on a 2xx answer."""

    def __init__(self, config: WebhookConfig, clock: Callable[[], float] = time.time) -> None:
        """``clock`` gives the Unix time that is signed (receivers check it)."""
        self.config = config
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Open the HTTP client session."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.config.timeout_s),
                headers={"User-Agent": "alarm-gateway"},
            )

    async def stop(self) -> None:
        """Close the session; later deliveries raise SenderClosedError."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def __aenter__(self) -> WebhookSender:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def wants(self, event: OutboxEvent) -> bool:
        """True if this endpoint subscribes to the event's kind."""
        return self.config.kinds is None or event.kind in self.config.kinds

    async def deliver(self, event: OutboxEvent) -> None:
        """POST the event; raise a DeliveryError subclass unless the answer is 2xx."""
        if not self.wants(event):
            return
        session = self._session
        if session is None:
            raise SenderClosedError("the webhook sender is not started")
        body = event_body(event)
        secret = self.config.secret.get_secret_value().encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature_header(secret, int(self._clock()), body),
            EVENT_ID_HEADER: str(event.id),
        }
        url = str(self.config.url)
        try:
            async with session.post(
                url, data=body, headers=headers, allow_redirects=False
            ) as reply:
                status = reply.status
                detail = ""
                if status >= 300:  # the start of the answer explains most refusals
                    detail = (await reply.content.read(200)).decode("utf-8", "replace").strip()
        except TimeoutError:
            raise WebhookUnreachableError(
                f"{url}: no answer within {self.config.timeout_s:g} s"
            ) from None
        except aiohttp.ClientError as exc:
            raise WebhookUnreachableError(f"{url}: {exc or type(exc).__name__}") from None
        if not 200 <= status < 300:
            message = f"{url} answered {status}" + (f": {detail}" if detail else "")
            raise WebhookRejectedError(message, status)
        log.info("event %s delivered to %s", event.id, url, extra={"alarm_id": event.alarm_id})
