"""The FilterString language of ExecuteBillQuery: a safe recursive-descent parser and evaluator.

Clients write SQL-like conditions (`FDocumentStatus='C' AND FDate>='2025-01-01'`, `like`, `in (…)`)
or the documented array form (protocol reference §6.6). The server turns them into SQL Server
predicates, so we reproduce SQL semantics — three-valued logic with NULL, case-insensitive text
comparison (Chinese_PRC_CI_AS), implicit date/number conversion — without ever building SQL text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
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


@dataclass(frozen=True, slots=True)
class IsNull:
    operand: Operand
    negated: bool = False


@dataclass(frozen=True, slots=True)
class And:
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Or:
    left: Node
    right: Node


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


class _Parser:
    """expr := or;  or := and (OR and)*;  and := not (AND not)*;  not := NOT not | primary;
    primary := '(' expr ')' | ATOM | predicate."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0

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
        node = self.parse_and()
        while self.at_keyword("OR"):
            self.take()
            node = Or(node, self.parse_and())
        return node

    def parse_and(self) -> Node:
        node = self.parse_not()
        while self.at_keyword("AND"):
            self.take()
            node = And(node, self.parse_not())
        return node

    def parse_not(self) -> Node:
        if self.at_keyword("NOT"):
            self.take()
            return Not(self.parse_not())
        return self.parse_primary()

    def parse_primary(self) -> Node:
        token = self.peek()
        if token is None:
            raise FilterSyntaxError("unexpected end of filter")
        if token.kind == "LPAREN":
            self.take()
            node = self.parse_or()
            self.expect("RPAREN")
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
            walk(n.left)
            walk(n.right)
        elif isinstance(n, Not):
            walk(n.inner)

    if node is not None:
        walk(node)
    return names


def evaluate(node: Node | None, resolve: Resolver) -> bool | None:
    """SQL truth value of the condition for one row: True, False or None (UNKNOWN)."""
    if node is None:
        return True
    if isinstance(node, And):
        left = evaluate(node.left, resolve)
        if left is False:
            return False
        right = evaluate(node.right, resolve)
        if right is False:
            return False
        return None if left is None or right is None else True
    if isinstance(node, Or):
        left = evaluate(node.left, resolve)
        if left is True:
            return True
        right = evaluate(node.right, resolve)
        if right is True:
            return True
        return None if left is None or right is None else False
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
        matched = like_regex(_as_text(pattern)).fullmatch(_as_text(value).casefold()) is not None
        return matched != node.negated
    if isinstance(node, In):
        value = _value(node.operand, resolve)
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
    return str(left).rstrip(" ").casefold(), str(right).rstrip(" ").casefold()


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


_LIKE_CACHE: dict[str, re.Pattern[str]] = {}


def like_regex(pattern: str) -> re.Pattern[str]:
    """SQL Server LIKE as a regex: % any run, _ one character, [abc] / [a-c] / [^a] classes."""
    cached = _LIKE_CACHE.get(pattern)
    if cached is not None:
        return cached
    parts: list[str] = []
    i, folded = 0, pattern.casefold()
    while i < len(folded):
        ch = folded[i]
        if ch == "%":
            parts.append(".*")
        elif ch == "_":
            parts.append(".")
        elif ch == "[":
            end = folded.find("]", i + 2 if folded.startswith("[]", i) else i + 1)
            if end == -1:
                parts.append(re.escape(ch))
            else:
                body = folded[i + 1 : end]
                negate = body.startswith("^") and len(body) > 1
                if negate:
                    body = body[1:]
                members = "".join(
                    re.escape(c) if c != "-" or j in (0, len(body) - 1) else "-" for j, c in enumerate(body)
                )
                parts.append(f"[{'^' if negate else ''}{members}]")
                i = end
        else:
            parts.append(re.escape(ch))
        i += 1
    try:
        compiled = re.compile("".join(parts), re.DOTALL)
    except re.error as exc:  # e.g. a reversed range [z-a]
        raise FilterValueError(f"invalid LIKE pattern {pattern!r}") from exc
    if len(_LIKE_CACHE) < 1024:
        _LIKE_CACHE[pattern] = compiled
    return compiled
