"""yecai (业财) — integration hub joining construction project-management systems to Kingdee K/3 Cloud.

Every business event in the project system becomes the right voucher or bill in Kingdee: once,
balanced and traceable. See docs/concepts.md for the vocabulary used throughout the code.
"""

__version__ = "0.1.0"
