"""Browser tests open WebRTC legs on loopback too."""

from tests.webrtc.conftest import loopback_ice

__all__ = ["loopback_ice"]
