"""The operator console and supervisor review, served by the gateway (no build step)."""
