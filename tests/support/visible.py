"""What a person reads on a console page, and the raw codes in it (issue 14, item 4; no tests here).

`visible_text` keeps the text a browser shows: not scripts or styles, not attributes (codes in
URLs, ids and data attributes are for the machine), not the folded JSON for integrators (`.json`
elements and the body of a closed `<details>` — its `<summary>` shows), and on a Chinese page not
what is marked `lang="en"` (an English gloss beside the Chinese). `raw_codes` then finds, in that
text, the codes of yecai.labels — the ones a label should have replaced — after taking out the
console's own sentences (i18n.MESSAGES), the English half of bilingual messages ("中文 / English")
on a Chinese page, the names people chose (users, connections, jobs, secrets) and the texts a
page shows as they were recorded (an alert's title as it was sent).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from html.parser import HTMLParser

from yecai import labels
from yecai.web.console import i18n

VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)
TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:[.:][A-Za-z0-9_]+)*")


class _Visible(HTMLParser):
    def __init__(self, lang: str) -> None:
        super().__init__(convert_charrefs=True)
        self.lang = lang
        self.parts: list[str] = []
        # per open element: (tag, its content hidden?, for a closed <details>: whether it is itself hidden)
        self.stack: list[tuple[str, bool, bool | None]] = []

    def _hidden(self) -> bool:
        return bool(self.stack) and self.stack[-1][1]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VOID:
            if tag == "br":
                self.parts.append("\n")
            return
        found = dict(attrs)
        hidden = self._hidden()
        classes = (found.get("class") or "").split()
        if tag in ("script", "style", "template") or "json" in classes or "hidden" in found:
            hidden = True
        if self.lang == "zh" and found.get("lang") == "en":
            hidden = True
        details: bool | None = None
        if tag == "details" and "open" not in found:
            details, hidden = hidden, True
        if (
            tag == "summary"
            and self.stack
            and self.stack[-1][0] == "details"
            and self.stack[-1][2] is not None
        ):
            hidden = self.stack[-1][2]
        self.stack.append((tag, hidden, details))
        self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                break
        self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden():
            self.parts.append(data)


def visible_text(html: str, lang: str) -> str:
    """The page's visible text, one element per line (blank lines dropped)."""
    parser = _Visible(lang)
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


@functools.cache
def _fragments(lang: str) -> tuple[str, ...]:
    """The console's own sentences in `lang`, cut at their {placeholders}, longest first."""
    index = 0 if lang == "zh" else 1
    pieces = {
        piece.strip()
        for texts in i18n.MESSAGES.values()
        for piece in re.split(r"\{[a-z_]+\}", texts[index])
        if len(piece.strip()) >= 3
    }
    return tuple(sorted(pieces, key=len, reverse=True))


@functools.cache
def _whole(fragment: str) -> re.Pattern[str]:
    """The fragment where it stands as whole words ("users" is no part of manage_users)."""
    start = r"(?<![A-Za-z0-9_.:])" if re.match(r"[A-Za-z0-9_]", fragment) else ""
    end = r"(?![A-Za-z0-9_.:])" if re.search(r"[A-Za-z0-9_]$", fragment) else ""
    return re.compile(start + re.escape(fragment) + end)


def _all_codes() -> set[str]:
    return {code for table in labels.VOCABULARY.values() for code in table}


def _english_words() -> set[str]:
    """Every word the English side of the console uses: a code that is also one (labour, failed)
    is an English word on an English page."""
    texts = [en for _, en in i18n.MESSAGES.values()]
    texts += [en for table in labels.VOCABULARY.values() for _, en in table.values()]
    return {token for text in texts for token in TOKEN.findall(text)}


def name_tokens(names: Iterable[str]) -> set[str]:
    return {token for name in names for token in TOKEN.findall(name)}


def raw_codes(text: str, lang: str, names: Iterable[str] = (), verbatim: Iterable[str] = ()) -> set[str]:
    """The codes of yecai.labels that stand in `text` as words of their own. `verbatim`: texts the
    page shows as they were recorded (a message as it was sent), taken out first."""
    for fragment in [*sorted(verbatim, key=len, reverse=True), *_fragments(lang)]:
        text = _whole(fragment).sub(" ", text)
    if lang == "zh":  # bilingual messages: "中文 / English", the English half is a gloss
        text = "\n".join(line.split(" / ")[0] for line in text.splitlines())
    codes = _all_codes()
    if lang == "en":
        codes = {code for code in codes if code not in _english_words() and len(code) > 1}
    qualified = {code for code in labels.VOCABULARY["run_kind"]}
    chosen = name_tokens(names)
    found = set()
    for token in TOKEN.findall(text):
        if token in chosen:
            continue
        head, colon, _ = token.partition(":")
        if token in codes or (colon and head in qualified):
            found.add(token)
    return found
