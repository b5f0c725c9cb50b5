"""alarm-gateway: voice-channel alarm gateway for lone-worker protection."""

__version__ = "0.1.0"
