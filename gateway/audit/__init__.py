"""The tamper-evident audit log: who listened, talked, played, exported or changed what."""
