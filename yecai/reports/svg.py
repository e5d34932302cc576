"""Small inline SVG charts for the HTML report: ranked horizontal bars, a pie (donut) and lines.

The HTML report must render offline, in a mail client or an archive, with no script at all — so
its charts are drawn here as SVG markup. Labels are escaped (markupsafe); numbers are formatted
by us. Each function returns `Markup` ready to place in the Jinja2 template.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup, escape

PALETTE = ("#1f5fa8", "#e0803a", "#4caf50", "#9c27b0", "#00897b", "#c62828")


def _short(value: float) -> str:
    """An axis label: 万 / 亿 as Chinese finance reports write them."""
    magnitude = abs(value)
    if magnitude >= 1e8:
        return f"{value / 1e8:.1f}亿"
    if magnitude >= 1e4:
        return f"{value / 1e4:.0f}万"
    return f"{value:.0f}"


def _legend(names: Sequence[str], x: float, y: float) -> str:
    parts = []
    for index, name in enumerate(names):
        cx = x + index * 150
        colour = PALETTE[index % len(PALETTE)]
        parts.append(
            f'<rect x="{cx}" y="{y - 9}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{cx + 14}" y="{y}" font-size="11">{escape(name)}</text>'
        )
    return "".join(parts)


def _axis(
    low: float, high: float, left: float, top: float, width: float, height: float
) -> tuple[str, float, float]:
    """Grid lines with labels; returns (markup, value→y scale factor, y of zero)."""
    span = (high - low) or 1.0
    parts = []
    for step in range(5):
        value = low + span * step / 4
        y = top + height - (value - low) / span * height
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + width}" y2="{y:.1f}" stroke="#e3e3e3"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="10" text-anchor="end" fill="#666">{_short(value)}</text>'
        )
    scale = height / span
    zero = top + height - (0 - low) * scale
    return "".join(parts), scale, zero


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round axis values (1, 2 or 5 × 10^k apart) covering low..high: 0, 5000万, 1亿 … not 9640万."""
    raw = ((high - low) or 1.0) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    return [first + i * step for i in range(math.ceil((high - first) / step - 1e-9) + 1)]


def _text_width(text: str, size: float) -> float:
    """About how wide `text` is drawn at font size `size`: CJK glyphs are square, Latin ones narrower."""
    return sum(size if ord(ch) > 0x2E7F else size * 0.6 for ch in text)


def fit(text: str, width: float, size: float) -> str:
    """`text` cut with "…" to fit `width` at font size `size` (the whole of it goes in a <title>)."""
    if _text_width(text, size) <= width:
        return text
    while text and _text_width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"


@dataclass(frozen=True, slots=True)
class RankedRow:
    label: str
    values: tuple[Decimal, ...]  # one per series


def top_and_others(rows: Sequence[RankedRow], top: int, others: str) -> list[RankedRow]:
    """The first `top` rows and one row summing the rest, named `others` ({n}: how many)."""
    if len(rows) <= top + 1:  # an "others" row of one would hide a name for nothing
        return list(rows)
    rest = rows[top:]
    summed = tuple(sum((r.values[i] for r in rest), Decimal(0)) for i in range(len(rest[0].values)))
    return [*rows[:top], RankedRow(others.format(n=len(rest)), summed)]


def ranked(
    rows: Sequence[RankedRow],
    series: Sequence[str],
    *,
    width: int = 900,
    label_width: int = 250,
    value_series: int | None = None,
) -> Markup:
    """Horizontal bars, one row per item in the order given (ranked by the caller), one bar per
    series. Every row has its own line, so labels never overlap however many rows there are;
    a long label is cut with "…" and given whole in its <title>. `value_series` prints that
    series' value at the row's right end (e.g. the margin)."""
    size, bar, gap = 11, 7, 10
    band = bar * len(series) + gap
    top, right = 30, 96 if value_series is not None else 16
    left = label_width + 8
    plot_w = width - left - right
    height = top + band * max(len(rows), 1) + 28
    values = [float(v) for r in rows for v in r.values] or [0.0]
    ticks = _ticks(min(0.0, *values), max(0.0, *values))
    low, high = ticks[0], ticks[-1]
    scale = plot_w / ((high - low) or 1.0)
    zero = left - low * scale
    parts = []
    for value in ticks:  # value axis along the top, 万 / 亿 as finance reports write them
        x = left + (value - low) * scale
        parts.append(
            f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - 28}" stroke="#e3e3e3"/>'
            f'<text x="{x:.1f}" y="{top - 8}" font-size="10" text-anchor="middle" fill="#666">{_short(value)}</text>'
        )
    parts.append(
        f'<line x1="{zero:.1f}" y1="{top - 4}" x2="{zero:.1f}" y2="{height - 28}" stroke="#9aa5b1"/>'
    )
    for index, row in enumerate(rows):
        y0 = top + index * band + gap / 2
        parts.append(
            f'<text class="row-label" x="{label_width}" y="{y0 + bar * len(series) / 2 + size / 2 - 1:.1f}" '
            f'font-size="{size}" text-anchor="end"><title>{escape(row.label)}</title>'
            f"{escape(fit(row.label, label_width, size))}</text>"
        )
        for s, value in enumerate(row.values):
            amount = float(value)
            x = zero + min(amount, 0.0) * scale
            parts.append(
                f'<rect x="{x:.1f}" y="{y0 + s * bar:.1f}" width="{abs(amount) * scale:.1f}" height="{bar - 1}" '
                f'fill="{PALETTE[s % len(PALETTE)]}"><title>{escape(row.label)} · {escape(series[s])}: '
                f"{amount:,.2f}</title></rect>"
            )
        if value_series is not None:
            amount = row.values[value_series]
            colour = "#c62828" if amount < 0 else "#1d2733"
            parts.append(
                f'<text class="row-value" x="{width - 4}" y="{y0 + bar * len(series) / 2 + 4:.1f}" font-size="10" '
                f'text-anchor="end" fill="{colour}">{_short(float(amount))}</text>'
            )
    parts.append(_legend(list(series), left, height - 8))
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'data-chart="ranked" data-rows="{len(rows)}">{"".join(parts)}</svg>'
    )


def donut(items: Sequence[tuple[str, Decimal]], *, size: int = 300) -> Markup:
    """A donut chart of shares, with a legend of names and percentages."""
    total = sum(float(v) for _, v in items if v > 0)
    cx = cy = size / 2 - 10
    r_out, r_in = size / 2 - 20, size / 4 - 6
    parts = []
    angle = -math.pi / 2
    for index, (name, value) in enumerate(items):
        share = float(value) / total if total and value > 0 else 0.0
        if share <= 0:
            continue
        end = angle + share * 2 * math.pi
        if share >= 0.9999:
            end -= 1e-4
        large = 1 if end - angle > math.pi else 0
        p1 = (cx + r_out * math.cos(angle), cy + r_out * math.sin(angle))
        p2 = (cx + r_out * math.cos(end), cy + r_out * math.sin(end))
        p3 = (cx + r_in * math.cos(end), cy + r_in * math.sin(end))
        p4 = (cx + r_in * math.cos(angle), cy + r_in * math.sin(angle))
        parts.append(
            f'<path d="M{p1[0]:.1f},{p1[1]:.1f} A{r_out},{r_out} 0 {large} 1 {p2[0]:.1f},{p2[1]:.1f} '
            f'L{p3[0]:.1f},{p3[1]:.1f} A{r_in},{r_in} 0 {large} 0 {p4[0]:.1f},{p4[1]:.1f} Z" '
            f'fill="{PALETTE[index % len(PALETTE)]}"><title>{escape(name)}: {share:.1%}</title></path>'
        )
        angle = end
    legend = []
    for index, (name, value) in enumerate(items):
        share = float(value) / total if total and value > 0 else 0.0
        y = 24 + index * 22
        legend.append(
            f'<rect x="{size + 4}" y="{y - 10}" width="12" height="12" fill="{PALETTE[index % len(PALETTE)]}"/>'
            f'<text x="{size + 22}" y="{y}" font-size="12">{escape(name)} {share:.1%}</text>'
        )
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size + 190} {size}" width="100%" role="img">'
        f"{''.join(parts)}{''.join(legend)}</svg>"
    )


def lines(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[Decimal]]],
    *,
    width: int = 640,
    height: int = 280,
) -> Markup:
    """One line per series over the labels (periods), with point markers."""
    left, top, bottom = 56, 24, 46
    plot_w, plot_h = width - left - 16, height - top - bottom
    values = [float(v) for _, vs in series for v in vs] or [0.0]
    low, high = min(0.0, *values), max(0.0, *values)
    grid, scale, zero = _axis(low, high, left, top, plot_w, plot_h)
    step = plot_w / max(len(labels) - 1, 1)
    parts = [grid]
    for s, (_name, vs) in enumerate(series):
        colour = PALETTE[s % len(PALETTE)]
        points = [(left + i * step, zero - float(v) * scale) for i, v in enumerate(vs)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        parts.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in points)
    for i, label in enumerate(labels):
        parts.append(
            f'<text x="{left + i * step:.1f}" y="{top + plot_h + 16}" font-size="10" text-anchor="middle">{escape(label)}</text>'
        )
    parts.append(_legend([name for name, _ in series], left, height - 8))
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img">{"".join(parts)}</svg>'
    )
