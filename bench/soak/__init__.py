"""Soak benchmark: the whole gateway under a steady mixed load for tens of minutes.

``python -m bench.soak --minutes 30`` (see ``__main__``); the figures are in
docs/reliability.md.
"""
