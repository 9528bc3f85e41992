"""Server-rendered SVG charts (no script, no CDN): what a result page shows beside its tables.

One chart for now: `pair_bars`, a horizontal bar chart of labelled pairs (现行 vs 草案 per
county, per identity …), each pair two bars on one scale with its figures written out.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from html import escape

from django.utils.safestring import SafeString, mark_safe

from medaid.core.money import yuan_text

COLOURS = ("#79aec8", "#e0913a")


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
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title or "柱状图")}" font-size="12">'
    ]
    if title:
        parts.append(f'<text x="0" y="16" font-weight="bold">{escape(title)}</text>')
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
