"""The console: server-rendered pages (Jinja2 + htmx, charts with ECharts), Chinese first.

`install(app)` mounts the vendored static files and the page routes. Pages are thin views over the
same services as the JSON API (`yecai.sync`, `yecai.jobs`, `yecai.auth`), each route with its own
access rule; see docs/console.md for the pages and who may use them.
"""

from yecai.web.console.router import install

__all__ = ["install"]
