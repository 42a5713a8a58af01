"""Inline SVG charts for the reports (no plotting library, no external request).

`line_chart`: busbw against message size (log2 x axis) with the expectation drawn in;
`heatmap`: a rail x node grid coloured by how close each value is to its target.
Every number is formatted with fixed precision, so the same data gives the same bytes.
"""

from __future__ import annotations

import math
from html import escape

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
SVG_NS = "http://www.w3.org/2000/svg"


def _num(v: float | int) -> str:
    return f"{v:.1f}" if isinstance(v, float) else str(v)


def el(tag: str, text: str | None = None, **attrs: float | int | str) -> str:
    """One SVG element; attribute names use `_` for `-`, numbers get one decimal."""
    a = " ".join(
        f'{k.rstrip("_").replace("_", "-")}="{_num(v) if not isinstance(v, str) else escape(v)}"'
        for k, v in attrs.items()
    )
    return f"<{tag} {a}/>" if text is None else f"<{tag} {a}>{text}</{tag}>"


def _open(width: int, height: int, title: str) -> str:
    return (
        f'<svg xmlns="{SVG_NS}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
    )


def _size(n: float) -> str:
    for unit, div in (("G", 2**30), ("M", 2**20), ("K", 2**10)):
        if n >= div:
            v = n / div
            return f"{v:.0f}{unit}" if v == int(v) else f"{v:.1f}{unit}"
    return f"{n:.0f}"


def line_chart(
    title: str,
    series: dict[str, list[tuple[int, float]]],
    *,
    floor: float | None = None,
    peak: float | None = None,
    width: int = 560,
    height: int = 260,
) -> str:
    """busbw (GB/s) against size (bytes); dashed lines: the pass threshold and the peak."""
    pad_l, pad_r, pad_t, pad_b = 56, 16, 28, 40
    xs = [x for pts in series.values() for x, _ in pts]
    ys = [y for pts in series.values() for _, y in pts] + [v for v in (floor, peak) if v]
    if not xs:
        return (
            _open(width, 40, title) + el("text", f"{escape(title)}: no data", x=4, y=24) + "</svg>"
        )
    x0, x1 = math.log2(min(xs)), math.log2(max(xs))
    x1 = x1 if x1 > x0 else x0 + 1
    ymax = max(ys) * 1.1 or 1.0
    right, bottom = width - pad_r, height - pad_b

    def px(x: float) -> float:
        return pad_l + (math.log2(x) - x0) / (x1 - x0) * (right - pad_l)

    def py(y: float) -> float:
        return bottom - y / ymax * (bottom - pad_t)

    out = [
        _open(width, height, title),
        el("text", escape(title), x=pad_l, y=18, font_size=13, font_weight="bold"),
        el("line", x1=pad_l, y1=bottom, x2=right, y2=bottom, stroke="#444"),
        el("line", x1=pad_l, y1=pad_t, x2=pad_l, y2=bottom, stroke="#444"),
    ]
    for i in range(5):
        y = ymax * i / 4
        out.append(
            el("text", f"{y:.0f}", x=pad_l - 6, y=py(y) + 4, font_size=10, text_anchor="end")
        )
        out.append(el("line", x1=pad_l, y1=py(y), x2=right, y2=py(y), stroke="#eee"))
    for x in sorted(set(xs)):
        out.append(el("text", _size(x), x=px(x), y=bottom + 14, font_size=10, text_anchor="middle"))
    mid_x, mid_y = width / 2, height / 2
    out.append(
        el(
            "text",
            "message size (bytes)",
            x=mid_x,
            y=height - 6,
            font_size=11,
            text_anchor="middle",
        )
    )
    out.append(
        el(
            "text",
            "busbw GB/s",
            x=12,
            y=mid_y,
            font_size=11,
            text_anchor="middle",
            transform=f"rotate(-90 12 {mid_y:.0f})",
        )
    )
    for label, value, colour in (
        ("pass threshold", floor, "#d62728"),
        ("hardware peak", peak, "#888"),
    ):
        if value:
            out.append(
                el(
                    "line",
                    x1=pad_l,
                    y1=py(value),
                    x2=right,
                    y2=py(value),
                    stroke=colour,
                    stroke_dasharray="5,4",
                )
            )
            out.append(
                el(
                    "text",
                    f"{label} {value:g}",
                    x=right,
                    y=py(value) - 4,
                    font_size=10,
                    text_anchor="end",
                    fill=colour,
                )
            )
    for i, (name, pts) in enumerate(sorted(series.items())):
        colour = PALETTE[i % len(PALETTE)]
        steps = [
            f"{'M' if j == 0 else 'L'}{px(x):.1f},{py(y):.1f}"
            for j, (x, y) in enumerate(sorted(pts))
        ]
        out.append(el("path", d=" ".join(steps), fill="none", stroke=colour, stroke_width=2))
        out += [el("circle", cx=px(x), cy=py(y), r=3, fill=colour) for x, y in sorted(pts)]
        out.append(
            el("text", escape(name), x=pad_l + 8, y=pad_t + 14 + 14 * i, font_size=11, fill=colour)
        )
    out.append("</svg>")
    return "\n".join(out)


def _colour(value: float | None, target: float) -> str:
    if value is None:
        return "#bbbbbb"
    ratio = value / target if target else 1.0
    if ratio >= 1:
        return "#2ca02c"
    if ratio >= 0.9:
        return "#bcbd22"
    if ratio >= 0.75:
        return "#ff7f0e"
    return "#d62728"


def heatmap(
    title: str,
    rows: list[str],
    cols: list[str],
    values: dict[str, dict[str, float | None]],
    target: float,
    unit: str,
) -> str:
    """rows x cols cells coloured against `target` (green at or above it, red far below)."""
    cell_w, cell_h, pad_l, pad_t = 54, 20, 90, 40
    width = max(560, pad_l + cell_w * len(cols) + 10)
    height = pad_t + cell_h * len(rows) + 24
    out = [
        _open(width, height, title),
        el("text", escape(title), x=4, y=16, font_size=13, font_weight="bold"),
    ]
    for j, c in enumerate(cols):
        cx = pad_l + j * cell_w + cell_w / 2
        out.append(el("text", escape(c), x=cx, y=pad_t - 6, font_size=11, text_anchor="middle"))
    for i, r in enumerate(rows):
        y = pad_t + i * cell_h
        out.append(el("text", escape(r), x=pad_l - 6, y=y + 14, font_size=11, text_anchor="end"))
        for j, c in enumerate(cols):
            v = values.get(r, {}).get(c)
            x = pad_l + j * cell_w
            label = "-" if v is None else f"{v:.0f}"
            tip = el("title", f"{escape(r)} {escape(c)}: {label} {escape(unit)}")
            fill = _colour(v, target)
            rect = (
                f'<rect x="{x}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" fill="{fill}">'
            )
            out.append(rect + tip + "</rect>")
            out.append(
                el(
                    "text",
                    label,
                    x=x + cell_w / 2 - 1,
                    y=y + 14,
                    font_size=10,
                    text_anchor="middle",
                    fill="#fff",
                )
            )
    legend = (
        f"green: at or above {target:g} {escape(unit)}; yellow: within 10 %; orange: within 25 %; "
        "red: further below; grey: not measured"
    )
    out += [el("text", legend, x=4, y=height - 6, font_size=10), "</svg>"]
    return "\n".join(out)
