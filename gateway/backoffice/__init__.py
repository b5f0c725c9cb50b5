"""Back office: safety instructions, escalation contacts and device credentials."""
