"""SIP voice channel: pjsua2 worker processes run by an asyncio supervisor (docs/sip.md)."""
