"""WebRTC audio legs between the gateway and operator browsers (aiortc glue only)."""
