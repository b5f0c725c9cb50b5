"""Phone simulator (``alarm-gateway phone``): raises alarms and answers callbacks like a
lone-worker phone, for demos and end-to-end tests.

Only :mod:`gateway.phone.softphone` imports pjsua2; it is loaded by the ``raise`` and
``wait`` commands alone, in their own fresh process.
"""
