"""Managers reached by webhook, and their acknowledgements coming back.

A dialplan's ``NotifyManager`` step on the webhook channel POSTs a signed JSON
message (same signature scheme as event webhooks) carrying an acknowledgement
link. Following it (``POST /api/v1/acknowledgements``) tells the dialplan that
this manager took note, which stops the chain; the link carries its own HMAC
token, so it needs no login and cannot be forged for another alarm or person.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable

import aiohttp

from gateway.dialplan.actions import NotifyManager
from gateway.outbox.errors import DeliveryError
from gateway.webhook.signing import signature_header

SIGNATURE_HEADER = "X-Alarm-Gateway-Signature"


def ack_token(secret: bytes, alarm_id: str, trigger: str, contact: str) -> str:
    """HMAC binding an acknowledgement to one alarm, one trigger and one contact."""
    message = "\x1f".join((alarm_id, trigger, contact)).encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def valid_ack(secret: bytes, alarm_id: str, trigger: str, contact: str, token: str) -> bool:
    return hmac.compare_digest(ack_token(secret, alarm_id, trigger, contact), token)


class ManagerNotifier:
    """Implements the dialplan runner's ``ManagerWebhook`` over HTTPS."""

    def __init__(
        self,
        secret: bytes,
        public_url: str,
        *,
        timeout_s: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secret = secret
        self._public_url = public_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self._timeout)

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def notify(self, alarm_id: str, action: NotifyManager) -> None:
        """POST the message; raise DeliveryError unless the endpoint answers 2xx."""
        if self._session is None:
            raise DeliveryError("the manager notifier is not started")
        token = ack_token(self._secret, alarm_id, action.trigger.value, action.contact)
        body = json.dumps(
            {
                "alarm_id": alarm_id,
                "trigger": action.trigger.value,
                "contact": action.contact,
                "role": action.role,
                "message": action.message,
                "acknowledge": {
                    "url": f"{self._public_url}/api/v1/acknowledgements",
                    "body": {
                        "alarm_id": alarm_id,
                        "trigger": action.trigger.value,
                        "contact": action.contact,
                        "token": token,
                    },
                },
            },
            ensure_ascii=False,
        ).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature_header(self._secret, int(self._clock()), body),
        }
        try:
            async with self._session.post(action.address, data=body, headers=headers) as answer:
                if not 200 <= answer.status < 300:
                    raise DeliveryError(f"{action.address} answered {answer.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryError(
                f"{action.address} unreachable: {exc or type(exc).__name__}"
            ) from None
