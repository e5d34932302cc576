"""What people call: thin service functions over the store, shared by the web and the CLI.

The dashboard's figures, traceability, connections (health, test, secrets), mapping edits, the
postings a person approves, replays or skips, Kingdee's refusals, the rules check and connection
health. Each takes keyword arguments and the caller (`Principal`) where it scopes by project;
the web and the CLI never build queries themselves.
"""
