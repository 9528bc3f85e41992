"""Server-rendered SVG charts (no script, no CDN): what a result page shows beside its tables.

`pair_bars`, a horizontal bar chart of labelled pairs (现行 vs 草案 per county, per identity …),
each pair two bars on one scale with its figures written out; `bars`, the same for one figure
per label (spending by identity, settlement per hospital); `month_columns`, twelve monthly
columns against a dashed reference line (a county's spending against its monthly budget).
Every chart is an `<svg role="img">` with its title as `aria-label`, a `<title>` on each bar, and
its amounts in the one format (`yuan_text`).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from html import escape

from django.utils.safestring import SafeString, mark_safe

from medaid.core.money import yuan_text

COLOURS = ("#79aec8", "#e0913a")


def _opening(width: int, height: int, title: str, *, fallback: str) -> list[str]:
    """A chart's `<svg>` element, named for screen readers by its title, and the title shown."""
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title or fallback)}" font-size="12">'
    ]
    if title:
        parts.append(f'<text x="0" y="16" font-weight="bold">{escape(title)}</text>')
    return parts


def pair_bars(
    rows: Sequence[tuple[str, Decimal, Decimal]],
    *,
    series: tuple[str, str] = ("现行", "草案"),
    title: str = "",
    width: int = 640,
) -> SafeString:
    """An SVG of `rows` = (label, first, second): two bars per label, longest = the largest
    absolute value; negative values draw from the same origin (widths are magnitudes)."""
    label_w, bar_h, gap, top = 120, 14, 10, 28 if title else 8
    figures_w = 110
    plot_w = max(width - label_w - figures_w, 50)
    biggest = max((abs(v) for _, a, b in rows for v in (a, b)), default=Decimal(0)) or Decimal(1)
    height = top + len(rows) * (2 * bar_h + gap) + 24
    parts = _opening(width, height, title, fallback="柱状图")
    y = top
    for label, *values in rows:
        parts.append(
            f'<text x="{label_w - 6}" y="{y + bar_h + 4}" text-anchor="end">{escape(label)}</text>'
        )
        for i, value in enumerate(values):
            w = float(abs(Decimal(value)) / biggest) * plot_w
            parts.append(
                f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" '
                f'fill="{COLOURS[i]}"><title>{escape(series[i])} {yuan_text(value)}</title></rect>'
                f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h - 3}">{yuan_text(value)}</text>'
            )
            y += bar_h
        y += gap
    for i, name in enumerate(series):
        x = label_w + i * 90
        parts.append(
            f'<rect x="{x}" y="{y + 4}" width="10" height="10" fill="{COLOURS[i]}"/>'
            f'<text x="{x + 14}" y="{y + 13}">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))


def bars(
    rows: Sequence[tuple[str, Decimal]], *, title: str = "", unit: str = "元", width: int = 640
) -> SafeString:
    """An SVG of `rows` = (label, amount): one horizontal bar per label, longest = the largest
    absolute amount, the amount written after each bar."""
    label_w, bar_h, gap, top = 150, 16, 6, 28 if title else 8
    plot_w = max(width - label_w - 120, 50)
    biggest = max((abs(Decimal(v)) for _, v in rows), default=Decimal(0)) or Decimal(1)
    height = top + len(rows) * (bar_h + gap) + 8
    parts = _opening(width, height, title, fallback="柱状图")
    y = top
    for label, value in rows:
        w = float(abs(Decimal(value)) / biggest) * plot_w
        text = f"{yuan_text(value)} {unit}".strip()
        parts.append(
            f'<text x="{label_w - 6}" y="{y + bar_h - 4}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{COLOURS[0]}">'
            f"<title>{escape(label)} {text}</title></rect>"
            f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h - 4}">{text}</text>'
        )
        y += bar_h + gap
    parts.append("</svg>")
    return mark_safe("".join(parts))


def month_columns(
    values: Sequence[Decimal],
    *,
    reference: Decimal | None = None,
    reference_label: str = "月均预算",
    series: str = "支出",
    title: str = "",
    width: int = 640,
) -> SafeString:
    """An SVG of twelve monthly `values` as columns (1月…12月), with `reference` drawn as a
    dashed line across them (the month's share of a budget); a column above the line is drawn
    in the warning colour. The scale fits the tallest column or the line."""
    left, top, plot_h, bottom = 90, 28 if title else 8, 160, 40
    plot_w = width - left - 10
    step = plot_w / max(len(values), 1)
    biggest = max([abs(Decimal(v)) for v in values] + [abs(reference or Decimal(0))])
    biggest = biggest or Decimal(1)
    height = top + plot_h + bottom

    def y_of(value) -> float:
        return top + plot_h - float(abs(Decimal(value)) / biggest) * plot_h

    parts = _opening(width, height, title, fallback="月度柱状图")
    parts.append(
        f'<text x="{left - 6}" y="{top + 10}" text-anchor="end">{yuan_text(biggest)}</text>'
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end">0</text>'
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#999"/>'
    )
    for i, value in enumerate(values):
        x, y = left + i * step + step * 0.15, y_of(value)
        over = reference is not None and abs(Decimal(value)) > abs(reference)
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" '
            f'height="{top + plot_h - y:.1f}" fill="{COLOURS[1] if over else COLOURS[0]}">'
            f"<title>{i + 1}月 {escape(series)} {yuan_text(value)} 元</title></rect>"
            f'<text x="{x + step * 0.35:.1f}" y="{top + plot_h + 14}" '
            f'text-anchor="middle">{i + 1}月</text>'
        )
    legend_y = top + plot_h + 32
    parts.append(
        f'<rect x="{left}" y="{legend_y - 9}" width="10" height="10" fill="{COLOURS[0]}"/>'
        f'<text x="{left + 14}" y="{legend_y}">{escape(series)}</text>'
        f'<rect x="{left + 70}" y="{legend_y - 9}" width="10" height="10" fill="{COLOURS[1]}"/>'
        f'<text x="{left + 84}" y="{legend_y}">超过{escape(reference_label)}</text>'
    )
    if reference is not None:
        y = y_of(reference)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#ba2121" '
            f'stroke-dasharray="6 4"><title>{escape(reference_label)} {yuan_text(reference)} 元'
            "</title></line>"
            f'<text x="{left + 200}" y="{legend_y}" fill="#ba2121">- - {escape(reference_label)} '
            f"{yuan_text(reference)} 元</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))
