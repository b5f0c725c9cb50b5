"""The error every outbox sink raises when an event was not confirmed."""

from __future__ import annotations


class DeliveryError(Exception):
    """An outbox event was not confirmed by its destination; retry later.

    ``permanent`` marks failures that retrying the same content cannot fix
    (the receiver refused the message itself), so the outbox may park it and
    raise an operator alert instead of retrying forever.
    """

    permanent: bool = False
