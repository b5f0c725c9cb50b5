"""Supervisor review: service-level figures over closed and open alarms (pure)."""
