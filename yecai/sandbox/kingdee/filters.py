"""The FilterString language of ExecuteBillQuery: a safe recursive-descent parser and evaluator.

Clients write SQL-like conditions (`FDocumentStatus='C' AND FDate>='2025-01-01'`, `like`, `in (…)`)
or the documented array form (WebAPI §6.6). The server turns them into SQL Server
predicates, so we reproduce SQL semantics — three-valued logic with NULL, case-insensitive text
comparison (Chinese_PRC_CI_AS), implicit date/number conversion — without ever building SQL text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from yecai.sandbox.kingdee.values import format_datetime, parse_datetime_text


class FilterError(ValueError):
    """Base of everything the filter language can object to."""


class FilterSyntaxError(FilterError):
    """The FilterString cannot be parsed (the server's `GetRealExpress error`)."""


class FilterValueError(FilterError):
    """A comparison SQL Server would refuse at run time (e.g. text that is not a date)."""


# --- syntax tree ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldRef:
    name: str


@dataclass(frozen=True, slots=True)
class Literal:
    value: str | Decimal | int | None


Operand = FieldRef | Literal


@dataclass(frozen=True, slots=True)
class Compare:
    op: str  # one of = <> < <= > >=
    left: Operand
    right: Operand


@dataclass(frozen=True, slots=True)
class Like:
    operand: Operand
    pattern: Operand
    negated: bool = False


@dataclass(frozen=True, slots=True)
class In:
    operand: Operand
    items: tuple[Operand, ...]
    negated: bool = False
    # When every item is a text literal (or NULL): the items as SQL Server compares text, so a text
    # value is looked up once instead of coerced against each item (`FBillNo IN (…200 numbers…)`
    # row by row was the emulator's own bottleneck, issue 15). None: items of other kinds.
    texts: frozenset[str] | None = field(default=None, init=False, compare=False, repr=False)
    has_null: bool = field(default=False, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        texts: set[str] = set()
        has_null = False
        for item in self.items:
            if not isinstance(item, Literal) or not (item.value is None or isinstance(item.value, str)):
                return
            if item.value is None:
                has_null = True
            else:
                texts.add(text_key(item.value))
        object.__setattr__(self, "texts", frozenset(texts))
        object.__setattr__(self, "has_null", has_null)


@dataclass(frozen=True, slots=True)
class IsNull:
    operand: Operand
    negated: bool = False


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Node, ...]  # flat: a 3,000-term AND is one node, not a tree 3,000 deep


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Node, ...]  # flat, like And


@dataclass(frozen=True, slots=True)
class Not:
    inner: Node


Node = Compare | Like | In | IsNull | And | Or | Not


# --- lexer ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # IDENT KEYWORD STRING NUMBER OP LPAREN RPAREN COMMA SIGN ATOM
    text: str
    position: int
    value: Any = None


_KEYWORDS = {"AND", "OR", "NOT", "LIKE", "IN", "IS", "NULL"}
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)")
_OPERATORS = ("<>", "!=", ">=", "<=", "=", "<", ">")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch == "(":
            tokens.append(Token("LPAREN", ch, i))
            i += 1
            continue
        if ch == ")":
            tokens.append(Token("RPAREN", ch, i))
            i += 1
            continue
        if ch == ",":
            tokens.append(Token("COMMA", ch, i))
            i += 1
            continue
        if ch in "+-":
            tokens.append(Token("SIGN", ch, i))
            i += 1
            continue
        op = next((o for o in _OPERATORS if text.startswith(o, i)), None)
        if op is not None:
            tokens.append(Token("OP", "<>" if op == "!=" else op, i))
            i += len(op)
            continue
        if ch == "'" or (ch in "Nn" and text.startswith("'", i + 1)):
            start = i
            i += 1 if ch == "'" else 2
            chars: list[str] = []
            while True:
                if i >= n:
                    raise FilterSyntaxError(f"unterminated string starting at {start}")
                if text[i] == "'":
                    if text.startswith("''", i):
                        chars.append("'")
                        i += 2
                        continue
                    i += 1
                    break
                chars.append(text[i])
                i += 1
            tokens.append(Token("STRING", text[start:i], start, "".join(chars)))
            continue
        match = _NUMBER.match(text, i)
        if match:
            if match.end() < n and (text[match.end()].isalnum() or text[match.end()] == "_"):
                raise FilterSyntaxError(f"malformed number at {i}")
            tokens.append(Token("NUMBER", match.group(), i, Decimal(match.group())))
            i = match.end()
            continue
        match = _IDENT.match(text, i)
        if match:
            word = match.group()
            kind = "KEYWORD" if word.upper() in _KEYWORDS else "IDENT"
            tokens.append(Token(kind, word.upper() if kind == "KEYWORD" else word, i))
            i = match.end()
            continue
        raise FilterSyntaxError(f"unexpected character {ch!r} at {i}")
    return tokens


# --- parser ---------------------------------------------------------------------------------------


# How deep parentheses and NOTs may nest. The parser recurses once per level (a few frames each),
# so 5,000 "(" must be refused before Python's recursion limit is; real filters nest a handful deep.
MAX_NESTING = 100


class _Parser:
    """expr := or;  or := and (OR and)*;  and := not (AND not)*;  not := NOT not | primary;
    primary := '(' expr ')' | ATOM | predicate.  AND and OR chains become one flat node each."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    def enter(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise FilterSyntaxError(f"filter nests deeper than {MAX_NESTING} levels at {token.position}")

    def peek(self, offset: int = 0) -> Token | None:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise FilterSyntaxError("unexpected end of filter")
        self.pos += 1
        return token

    def _at(self, kind: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == kind

    def at_keyword(self, word: str, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token is not None and token.kind == "KEYWORD" and token.text == word

    def expect(self, kind: str, text: str | None = None) -> Token:
        token = self.take()
        if token.kind != kind or (text is not None and token.text != text):
            raise FilterSyntaxError(f"expected {text or kind} at {token.position}, found {token.text!r}")
        return token

    def parse(self) -> Node:
        node = self.parse_or()
        if self.peek() is not None:
            token = self.take()
            raise FilterSyntaxError(f"unexpected {token.text!r} at {token.position}")
        return node

    def parse_or(self) -> Node:
        items = [self.parse_and()]
        while self.at_keyword("OR"):
            self.take()
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self) -> Node:
        items = [self.parse_not()]
        while self.at_keyword("AND"):
            self.take()
            items.append(self.parse_not())
        return items[0] if len(items) == 1 else And(tuple(items))

    def parse_not(self) -> Node:
        if self.at_keyword("NOT"):
            self.enter(self.take())
            node: Node = Not(self.parse_not())
            self.depth -= 1
            return node
        return self.parse_primary()

    def parse_primary(self) -> Node:
        token = self.peek()
        if token is None:
            raise FilterSyntaxError("unexpected end of filter")
        if token.kind == "LPAREN":
            self.enter(self.take())
            node = self.parse_or()
            self.expect("RPAREN")
            self.depth -= 1
            return node
        if token.kind == "ATOM":
            self.take()
            return token.value
        return self.parse_predicate()

    def parse_operand(self) -> Operand:
        token = self.take()
        if token.kind == "IDENT":
            return FieldRef(token.text)
        if token.kind == "STRING":
            return Literal(token.value)
        if token.kind == "NUMBER":
            return Literal(token.value)
        if token.kind == "SIGN":
            number = self.expect("NUMBER")
            return Literal(-number.value if token.text == "-" else number.value)
        if token.kind == "KEYWORD" and token.text == "NULL":
            return Literal(None)
        raise FilterSyntaxError(f"expected a field or value at {token.position}, found {token.text!r}")

    def parse_predicate(self) -> Node:
        left = self.parse_operand()
        token = self.peek()
        if token is None:
            raise FilterSyntaxError("a condition needs an operator")
        if token.kind == "OP":
            self.take()
            return Compare(token.text, left, self.parse_operand())
        negated = False
        if self.at_keyword("NOT") and (self.at_keyword("LIKE", 1) or self.at_keyword("IN", 1)):
            self.take()
            negated = True
        if self.at_keyword("LIKE"):
            self.take()
            return Like(left, self.parse_operand(), negated)
        if self.at_keyword("IN"):
            self.take()
            self.expect("LPAREN")
            items = [self.parse_operand()]
            while self._at("COMMA"):
                self.take()
                items.append(self.parse_operand())
            self.expect("RPAREN")
            return In(left, tuple(items), negated)
        if self.at_keyword("IS"):
            self.take()
            is_not = False
            if self.at_keyword("NOT"):
                self.take()
                is_not = True
            self.expect("KEYWORD", "NULL")
            return IsNull(left, is_not)
        raise FilterSyntaxError(f"expected an operator at {token.position}, found {token.text!r}")


def parse_filter(text: str) -> Node | None:
    """The condition tree of a FilterString; None for an empty one."""
    if not isinstance(text, str):
        raise FilterSyntaxError("FilterString must be text or an array")
    tokens = tokenize(text)
    if not tokens:
        return None
    return _Parser(tokens).parse()


# Compare codes of the array form. Only these are seen in public samples (§6.6, §11.5): 67 on text
# fields and 105 on status fields mean "equals"; 60 on a number field looks like "starts with" [INF].
ARRAY_COMPARE_CODES: dict[str, str] = {"67": "=", "105": "=", "60": "startswith"}


def parse_filter_array(items: list[Any], codes: dict[str, str] | None = None) -> Node | None:
    """The array form `[{"Left","FieldName","Compare","Value","Right","Logic"}, …]` as a tree."""
    codes = ARRAY_COMPARE_CODES if codes is None else codes
    tokens: list[Token] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise FilterSyntaxError(f"filter item {index} is not an object")
        lowered = {str(k).lower(): v for k, v in item.items()}
        tokens.extend(_paren_tokens(lowered.get("left"), "(", "LPAREN", index))
        field_name = str(lowered.get("fieldname") or "").strip()
        if not _IDENT.fullmatch(field_name):
            raise FilterSyntaxError(f"filter item {index}: bad FieldName {field_name!r}")
        operation = codes.get(str(lowered.get("compare", "")).strip())
        if operation is None:
            raise FilterSyntaxError(f"filter item {index}: unknown Compare {lowered.get('compare')!r}")
        raw = lowered.get("value")
        value: str | Decimal | int | None = raw if isinstance(raw, Decimal | int) else _text(raw)
        atom: Node
        if operation == "startswith":
            pattern = _escape_like(str(value)) + "%"
            atom = Like(FieldRef(field_name), Literal(pattern))
        else:
            atom = Compare(operation, FieldRef(field_name), Literal(value))
        tokens.append(Token("ATOM", field_name, index, atom))
        tokens.extend(_paren_tokens(lowered.get("right"), ")", "RPAREN", index))
        if index < len(items) - 1:
            logic = str(lowered.get("logic", "0")).strip()
            if logic not in ("0", "1"):
                raise FilterSyntaxError(f"filter item {index}: Logic must be 0 or 1")
            tokens.append(Token("KEYWORD", "AND" if logic == "0" else "OR", index))
    if not tokens:
        return None
    return _Parser(tokens).parse()


def _text(raw: Any) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, bool):
        return "1" if raw else "0"
    return str(raw)


def _paren_tokens(raw: Any, symbol: str, kind: str, index: int) -> Iterator[Token]:
    for ch in str(raw or ""):
        if ch.isspace():
            continue
        if ch != symbol:
            raise FilterSyntaxError(f"filter item {index}: unexpected {ch!r} in parentheses")
        yield Token(kind, ch, index)


def _escape_like(text: str) -> str:
    return re.sub(r"([%_\[])", r"[\1]", text)


# --- evaluation -----------------------------------------------------------------------------------

Resolver = Callable[[str], Any]


def field_names(node: Node | None) -> list[str]:
    """Every field the condition reads, in order of appearance."""
    names: list[str] = []

    def operand(op: Operand) -> None:
        if isinstance(op, FieldRef):
            names.append(op.name)

    def walk(n: Node) -> None:
        if isinstance(n, Compare):
            operand(n.left)
            operand(n.right)
        elif isinstance(n, Like):
            operand(n.operand)
            operand(n.pattern)
        elif isinstance(n, In):
            operand(n.operand)
            for item in n.items:
                operand(item)
        elif isinstance(n, IsNull):
            operand(n.operand)
        elif isinstance(n, And | Or):
            for item in n.items:
                walk(item)
        elif isinstance(n, Not):
            walk(n.inner)

    if node is not None:
        walk(node)
    return names


def evaluate(node: Node | None, resolve: Resolver) -> bool | None:
    """SQL truth value of the condition for one row: True, False or None (UNKNOWN)."""
    if node is None:
        return True
    if isinstance(node, And | Or):
        # SQL's three-valued AND/OR over many terms: the deciding value (False for AND, True for
        # OR) wins at once; else UNKNOWN if any term was UNKNOWN.
        decisive = isinstance(node, Or)
        unknown = False
        for item in node.items:
            verdict = evaluate(item, resolve)
            if verdict is decisive:
                return decisive
            unknown = unknown or verdict is None
        return None if unknown else not decisive
    if isinstance(node, Not):
        inner = evaluate(node.inner, resolve)
        return None if inner is None else not inner
    if isinstance(node, Compare):
        order = compare_values(_value(node.left, resolve), _value(node.right, resolve))
        if order is None:
            return None
        return {
            "=": order == 0,
            "<>": order != 0,
            "<": order < 0,
            "<=": order <= 0,
            ">": order > 0,
            ">=": order >= 0,
        }[node.op]
    if isinstance(node, Like):
        value, pattern = _value(node.operand, resolve), _value(node.pattern, resolve)
        if value is None or pattern is None:
            return None
        return like_matches(_as_text(pattern), _as_text(value)) != node.negated
    if isinstance(node, In):
        value = _value(node.operand, resolve)
        if node.texts is not None:
            if value is None:  # NULL IN (…) is UNKNOWN, and NOT IN too, unless the list is empty
                return None if node.items else node.negated
            if isinstance(value, str):
                # Text against text literals: equal after the one coercion `_coerce` applies to
                # text, so a set lookup gives the loop's answer (a NULL item makes a miss UNKNOWN).
                if text_key(value) in node.texts:
                    return not node.negated
                return None if node.has_null else node.negated
        unknown = False
        for item in node.items:
            order = compare_values(value, _value(item, resolve))
            if order == 0:
                return not node.negated
            if order is None:
                unknown = True
        return None if unknown else node.negated
    if isinstance(node, IsNull):
        return (_value(node.operand, resolve) is None) != node.negated
    raise TypeError(f"not a filter node: {node!r}")


def _value(operand: Operand, resolve: Resolver) -> Any:
    return resolve(operand.name) if isinstance(operand, FieldRef) else operand.value


def _as_text(value: Any) -> str:
    if isinstance(value, datetime):
        return format_datetime(value).replace("T", " ")
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def compare_values(left: Any, right: Any) -> int | None:
    """-1/0/1 like SQL Server would order the two values after implicit conversion; None for NULL."""
    if left is None or right is None:
        return None
    a, b = _coerce(left, right)
    return (a > b) - (a < b)


def _coerce(left: Any, right: Any) -> tuple[Any, Any]:
    left, right = _unbool(left), _unbool(right)
    if isinstance(left, datetime) or isinstance(right, datetime):
        return _as_datetime(left), _as_datetime(right)
    left_number, right_number = isinstance(left, int | Decimal), isinstance(right, int | Decimal)
    if left_number or right_number:
        return _as_number(left), _as_number(right)
    # Text against text: case-insensitive, trailing blanks ignored (SQL Server, CI collation).
    return text_key(left), text_key(right)


def text_key(value: Any) -> str:
    """Text as SQL Server's case-insensitive collation compares it: case folded, trailing blanks cut."""
    return str(value).rstrip(" ").casefold()


def _unbool(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        parsed = parse_datetime_text(value)
        if parsed is not None:
            return parsed
    raise FilterValueError(f"cannot convert {value!r} to a date")


def _as_number(value: Any) -> Decimal | int:
    if isinstance(value, int | Decimal):
        return value
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise FilterValueError(f"cannot convert {value!r} to a number") from exc
    if not number.is_finite():
        raise FilterValueError(f"cannot convert {value!r} to a number")
    return number


# --- LIKE -----------------------------------------------------------------------------------------
# SQL Server's LIKE, matched without backtracking regexes: a regex of k ".*" can take time growing
# like n^k ('%_%_%_…#' pinned a core). A pattern is split at its '%' into segments of one-character
# tokens; the first segment is anchored at the start, the last at the end, and each middle one is
# taken at its leftmost place — which is always a best choice, so no step is ever undone. Worst case
# O(len(text) · len(pattern)); a segment of plain characters is found by str.find.


@dataclass(frozen=True, slots=True)
class _CharClass:
    """`[abc]`, `[a-c]` or `[^a]`: one character from (or, negated, not from) the ranges."""

    ranges: tuple[tuple[str, str], ...]
    negated: bool

    def matches(self, ch: str) -> bool:
        return any(low <= ch <= high for low, high in self.ranges) != self.negated


# One character of the text: a literal character, `_` (None: any character) or a class.
_Char = str | None | _CharClass


@dataclass(frozen=True, slots=True)
class _LikePattern:
    segments: tuple[tuple[_Char, ...], ...]  # the pieces between '%'; one piece if there is no '%'
    literals: tuple[str | None, ...]  # each segment as plain text when it holds only literals

    def matches(self, text: str) -> bool:
        segments, n = self.segments, len(text)
        if len(segments) == 1:
            return len(segments[0]) == n and self._fits(0, text, 0)
        first, last = segments[0], segments[-1]
        if len(first) + len(last) > n or not self._fits(0, text, 0):
            return False
        end = n - len(last)  # the last segment sits at the very end; middle ones before it
        if not self._fits(len(segments) - 1, text, end):
            return False
        position = len(first)
        for index in range(1, len(segments) - 1):
            found = self._find(index, text, position, end)
            if found < 0:
                return False
            position = found + len(segments[index])
        return True

    def _fits(self, index: int, text: str, at: int) -> bool:
        literal = self.literals[index]
        if literal is not None:
            return text.startswith(literal, at)
        return all(
            token is None or (token == ch if isinstance(token, str) else token.matches(ch))
            for token, ch in zip(self.segments[index], text[at:], strict=False)
        )

    def _find(self, index: int, text: str, start: int, end: int) -> int:
        """The leftmost place in text[start:end] where segment `index` fits, or -1."""
        literal = self.literals[index]
        if literal is not None:
            return text.find(literal, start, end)
        width = len(self.segments[index])
        for at in range(start, end - width + 1):
            if self._fits(index, text, at):
                return at
        return -1


def _char_class(body: str, pattern: str) -> _CharClass:
    negated = body.startswith("^") and len(body) > 1
    if negated:
        body = body[1:]
    ranges: list[tuple[str, str]] = []
    j = 0
    while j < len(body):
        # "a-c" is a range; a '-' first or last in the class is the character itself
        if j + 2 < len(body) and body[j + 1] == "-":
            low, high = body[j], body[j + 2]
            if low > high:  # SQL Server refuses a reversed range such as [z-a]
                raise FilterValueError(f"invalid LIKE pattern {pattern!r}")
            ranges.append((low, high))
            j += 3
        else:
            ranges.append((body[j], body[j]))
            j += 1
    return _CharClass(tuple(ranges), negated)


@lru_cache(maxsize=1024)
def _compile_like(pattern: str) -> _LikePattern:
    segments: list[tuple[_Char, ...]] = []
    current: list[_Char] = []
    i, folded = 0, pattern.casefold()
    while i < len(folded):
        ch = folded[i]
        end = folded.find("]", i + 2 if folded.startswith("[]", i) else i + 1) if ch == "[" else -1
        if ch == "%":
            segments.append(tuple(current))
            current = []
        elif ch == "_":
            current.append(None)
        elif end != -1:
            current.append(_char_class(folded[i + 1 : end], pattern))
            i = end
        else:  # a plain character, or a '[' that opens no class
            current.append(ch)
        i += 1
    segments.append(tuple(current))
    literals = tuple(_plain(segment) for segment in segments)
    return _LikePattern(tuple(segments), literals)


def _plain(segment: tuple[_Char, ...]) -> str | None:
    """The segment as text when it holds only plain characters (then str.find does the search)."""
    chars = [token for token in segment if isinstance(token, str)]
    return "".join(chars) if len(chars) == len(segment) else None


def like_matches(pattern: str, text: str) -> bool:
    """SQL Server LIKE, case-insensitive: % any run, _ one character, [abc] / [a-c] / [^a] classes."""
    return _compile_like(pattern).matches(text.casefold())
