"""Alarm core: types, state machine and timeline. Pure, no I/O."""
