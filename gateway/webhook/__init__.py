"""Signed JSON webhooks: the outbox's second way out, for systems that do not speak DC-09."""
