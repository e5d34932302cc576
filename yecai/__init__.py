"""yecai (业财) — integration hub joining construction project-management systems to Kingdee K/3 Cloud.

Every business event in the project system becomes the right voucher or bill in Kingdee: once,
balanced and traceable. See docs/concepts.md for the vocabulary used throughout the code.
"""

from importlib.metadata import PackageNotFoundError, version

# The one version is the git tag the release was built from (setuptools-scm writes it into the
# installed package's metadata); the console footer, the API's OpenAPI description and
# `yecai --version` show it. Run from a source tree that was never installed, there is no metadata:
# "0+unknown" says so rather than a number that might be wrong.
try:
    __version__ = version("yecai")
except PackageNotFoundError:  # pragma: no cover - only outside any install
    __version__ = "0+unknown"
