"""Durable outbox: events written with the alarm change, delivered at least once."""
