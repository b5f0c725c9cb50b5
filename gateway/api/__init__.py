"""HTTP API (aiohttp): phones raise alarms, consoles read them and follow live events."""
