"""yecai (业财) — integration hub joining construction project-management systems to Kingdee K/3 Cloud.

Every business event in the project system becomes the right voucher or bill in Kingdee: once,
balanced and traceable. See docs/concepts.md for the vocabulary used throughout the code.
"""

# the one version: pyproject.toml reads it (setuptools dynamic), the console footer, the API's
# OpenAPI description and `yecai --version` show it
__version__ = "0.2.0"
