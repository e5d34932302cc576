"""What every console route module declares alike: its permission guards, the page query, the context.

Each module keeps its own router; the guards live here so that a page and the action beside it,
in whichever module, demand the same permission by the same name.
"""

from __future__ import annotations

from fastapi import Query, Request

from yecai.auth.roles import Permission
from yecai.web.context import WebContext
from yecai.web.security import allow

READ = [allow(Permission.READ)]
OPERATE = [allow(Permission.OPERATE)]
CONFIGURE = [allow(Permission.CONFIGURE)]
PAGE = Query(1, ge=1, le=100_000)  # the page of a paginated list, 1-based


def ctx_of(request: Request) -> WebContext:
    """The app's context (store, settings, workspace), set on the app when it was created."""
    return request.app.state.ctx
