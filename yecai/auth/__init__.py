"""People and machines: roles and permissions, password and token checks, sessions, the audit log.

Services here are what the web API, the console and the CLI call; none of them decides access on
its own. `roles` is the one table of who may do what; `principal` carries the caller and the
projects they may see into every query.
"""
