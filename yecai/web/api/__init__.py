"""The JSON API under /api/v1: everything the CLI does, for the console, scripts and site agents.

Routers are grouped by role (session, browse, operations, configuration, administration); each
route declares its access rule and calls one service. Money is sent as decimal strings, never as
binary floats. Errors carry Chinese and English messages.
"""
