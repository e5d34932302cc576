"""Turning a page's values into HTML: the Jinja2 environment, the frame every page shares, filters.

Autoescaping is on for every template (values from sources, users and Kingdee are text, never
markup). Each page gets the caller, their CSRF token (for the `<meta>` that console.js hands to
htmx, and for plain forms), the language with its `t` and `label`, and the navigation the caller's
role may use. Times are shown in the workspace's zone with their offset (yecai.localtime), money
with two decimals and thousands separators.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from yecai import __version__
from yecai.auth import users
from yecai.auth.principal import Principal
from yecai.auth.roles import Permission
from yecai.errors import YecaiError
from yecai.localtime import shown
from yecai.web.console import i18n
from yecai.web.security import SIGNED_IN

TEMPLATES = Path(__file__).parent / "templates"
PAGE_SIZE = 50

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=StrictUndefined,  # a misspelt value fails the page test instead of rendering blank
    trim_blocks=True,
    lstrip_blocks=True,
)


def _money(value: object) -> str:
    if value is None or value == "":
        return "—"
    return f"{Decimal(str(value)):,.2f}"


def _when(value: dt.datetime | None) -> str:
    return shown(value)  # the workspace's zone, labelled: the same text as the CLI and the reports


def _day(value: dt.date | None) -> str:
    return value.isoformat() if value else "—"


def _pretty(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


def _compact(value: Any, limit: int = 300) -> str:
    if value is None:
        return ""
    text = json.dumps(value, ensure_ascii=False, default=str, separators=(", ", ": "))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _slug(value: object) -> str:
    """A name as a safe HTML id / CSS selector part (connection names may hold dots or Chinese)."""
    return "n" + hashlib.sha1(str(value).encode("utf-8")).hexdigest()[:12]


_env.filters.update(money=_money, when=_when, day=_day, pretty=_pretty, compact=_compact, slug=_slug)
_env.globals["version"] = __version__  # the footer's


@dataclass(frozen=True, slots=True)
class Notice:
    """A message at the top of a page or in a row: both languages, the page shows one."""

    ok: bool
    zh: str
    en: str
    secret: str | None = None  # a generated password or token, shown this once


def notice(message: str, /, *, ok: bool = True, secret: str | None = None, **values: object) -> Notice:
    zh, en = i18n.MESSAGES[message]
    return Notice(ok, zh.format(**values) if values else zh, en.format(**values) if values else en, secret)


def problem(error: YecaiError) -> Notice:
    return Notice(False, error.zh, error.en)


def status_of(error: YecaiError) -> int:
    """409 for a refusal of the current state, 422 for bad input or configuration."""
    return 422 if str(error.fault) in ("data", "configuration") else 409


@dataclass(frozen=True, slots=True)
class NavItem:
    key: str
    path: str
    rule: Permission | str
    company_wide: bool = False  # hidden from project-limited callers (their pages would be empty)


NAV = (
    NavItem("nav.dashboard", "/", Permission.READ),
    NavItem("nav.projects", "/projects", Permission.READ),
    NavItem("nav.reports", "/reports/monthly", Permission.READ),
    NavItem("nav.postings", "/postings", Permission.READ),
    NavItem("nav.reconciliations", "/reconciliations", Permission.READ),
    NavItem("nav.approvals", "/approvals", Permission.READ, company_wide=True),
    NavItem("nav.dead_letters", "/dead-letters", Permission.READ, company_wide=True),
    NavItem("nav.jobs", "/jobs", Permission.READ, company_wide=True),
    NavItem("nav.connections", "/connections", Permission.READ, company_wide=True),
    NavItem("nav.mappings", "/mappings", Permission.READ),
    NavItem("nav.alerts", "/alerts", Permission.READ, company_wide=True),
    NavItem("nav.audit", "/audit", Permission.READ),
    NavItem("nav.users", "/users", Permission.MANAGE_USERS),
)


def nav_for(who: Principal | None) -> list[NavItem]:
    if who is None:
        return []
    return [
        item
        for item in NAV
        if (item.rule == SIGNED_IN or who.can(item.rule)) and (who.projects is None or not item.company_wide)
    ]


def local_path(value: str | None, default: str = "/") -> str:
    """`value` if it is a path on this site, else `default` — never an open redirect."""
    if not value or len(value) > 2000:
        return default
    if any(ord(ch) < 0x20 or ch == "\\" for ch in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return default
    return value


def query_url(request: Request, **changes: object) -> str:
    """This page's path with some query parameters changed (None removes one)."""
    params = dict(request.query_params)
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    query = urlencode(params)
    return request.url.path + (f"?{query}" if query else "")


@dataclass(frozen=True, slots=True)
class Pager:
    page: int
    size: int
    has_next: bool

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size


def page_of(rows: list[Any], page: int, size: int = PAGE_SIZE) -> tuple[list[Any], Pager]:
    """Rows fetched with `limit=size + 1` → the page's rows and whether there is a next page."""
    return rows[:size], Pager(page, size, len(rows) > size)


def language(request: Request, who: Principal | None) -> str:
    """The page language (cached on the request): the switch's cookie, the user's setting, zh."""
    cached = getattr(request.state, "lang", None)
    if cached in i18n.LANGUAGES:
        return str(cached)
    cookie = request.cookies.get(i18n.COOKIE)
    if cookie in i18n.LANGUAGES or who is None:
        chosen = i18n.choose(cookie, None)
    else:
        user = users.get_user(request.app.state.ctx.store, who.username)
        chosen = i18n.choose(None, user.language if user else None)
    request.state.lang = chosen
    return chosen


def page_lang(request: Request) -> str:
    return language(request, identity(request)[0])


def identity(request: Request) -> tuple[Principal | None, str | None]:
    """What the route's guard found (cached on the request by `yecai.web.security.identify`)."""
    found = getattr(request.state, "identity", None)
    return found if found is not None else (None, None)


def page_values(request: Request, *, lang: str | None = None, **values: Any) -> dict[str, Any]:
    who, csrf = identity(request)
    lang = lang if lang in i18n.LANGUAGES else language(request, who)
    return {
        "request": request,
        "who": who,
        "csrf": csrf or "",
        "lang": lang,
        "t": i18n.translator(lang),
        "label": i18n.labeller(lang),
        "nav": nav_for(who),
        "path": request.url.path,
        # where the language switch returns: this page, unless it answered a form (no GET there)
        "here": local_path(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        if request.method == "GET"
        else "/",
        "query_url": lambda **changes: query_url(request, **changes),
        "can": (lambda rule: who is not None and who.can(rule)),
        "P": Permission,
        "company_wide": who is not None and who.projects is None,
        **values,
    }


def render_text(request: Request, template: str, **values: Any) -> str:
    return _env.get_template(template).render(page_values(request, **values))


def render(request: Request, template: str, *, status: int = 200, **values: Any) -> HTMLResponse:
    return HTMLResponse(render_text(request, template, **values), status_code=status)


def error_page(request: Request, status: int, heading_key: str, zh: str, en: str) -> HTMLResponse:
    values = page_values(request)
    text = zh if values["lang"] == "zh" else en
    values.update(heading=values["t"](heading_key), text=text)
    return HTMLResponse(_env.get_template("error.html").render(values), status_code=status)


def not_found_page(request: Request) -> HTMLResponse:
    zh, en = i18n.MESSAGES["error.not_found_text"]
    return error_page(request, 404, "error.not_found", zh, en)
