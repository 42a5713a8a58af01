"""The fabric picture as a self-contained SVG (no external fonts, scripts or requests).

Three levels of detail, drawn as layers from the top tier down:
  full: every switch, node and cable (small fabrics);
  rail: every switch, nodes folded into one box per SU, parallel cables folded into one line;
  su:   one box per SU, per spine pod (or the spine tier) and for the core tier.
Every box carries `data-name` so reports can highlight failing devices later.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape, quoteattr

if TYPE_CHECKING:
    from aictl.topology.model import Topology

_COLORS = {
    "core": "#e76f51",
    "spine": "#f4a261",
    "leaf": "#2a9d8f",
    "node": "#e9c46a",
    "reserved": "#8ab17d",
    "su": "#e9c46a",
    "pod": "#f4a261",
    "tier": "#e76f51",
}
_FABRIC = ("node-leaf", "leaf-spine", "spine-core")


@dataclass(frozen=True, slots=True)
class _Box:
    key: str
    label: str
    kind: str
    title: str


def default_level(topo: Topology) -> str:
    """Most detailed level that stays readable."""
    fabric = sum(1 for s in topo.switches if s.role in ("leaf", "spine", "core"))
    if fabric + len(topo.nodes) <= 120:
        return "full"
    if sum(1 for s in topo.switches if s.role == "leaf") <= 160:
        return "rail"
    return "su"


def _full(topo: Topology) -> tuple[list[list[_Box]], Counter[tuple[str, str]]]:
    layers: list[list[_Box]] = []
    for role in ("core", "spine", "leaf"):
        boxes = [
            _Box(s.name, s.name.removeprefix(f"{role}-"), role, s.name)
            for s in topo.switches
            if s.role == role
        ]
        if boxes:
            layers.append(boxes)
    bottom = [_Box(n.name, n.name, "node", f"{n.name} (SU {n.su}, {n.rack})") for n in topo.nodes]
    bottom += [_Box(r.name, r.name, "reserved", f"{r.name} (reserved slot)") for r in topo.reserved]
    layers.append(bottom)
    edges = Counter((c.b_device, c.a_device) for c in topo.cables if c.tier in _FABRIC)
    return layers, edges


def _rail(topo: Topology) -> tuple[list[list[_Box]], Counter[tuple[str, str]]]:
    layers, _ = _full(topo)
    su_w = max(2, len(str(topo.shape.sus)))
    owner = {n.name: f"su{n.su:0{su_w}d}" for n in topo.nodes}
    owner.update({r.name: f"su{r.su:0{su_w}d}" for r in topo.reserved})
    counts = Counter(owner[n.name] for n in topo.nodes)
    layers[-1] = [
        _Box(
            key,
            f"{key.upper()} · {counts[key]} nodes",
            "su",
            f"scalable unit {key}: {counts[key]} nodes",
        )
        for key in sorted(set(owner.values()))
    ]
    edges: Counter[tuple[str, str]] = Counter()
    for c in topo.cables:
        if c.tier == "node-leaf":
            edges[(c.b_device, owner[c.a_device])] += 1
        elif c.tier in _FABRIC:
            edges[(c.b_device, c.a_device)] += 1
    return layers, edges


def _su(topo: Topology) -> tuple[list[list[_Box]], Counter[tuple[str, str]]]:
    sh = topo.shape
    su_w = max(2, len(str(sh.sus)))
    by_name = {s.name: s for s in topo.switches}
    node_su = {n.name: n.su for n in topo.nodes}
    node_su.update({r.name: r.su for r in topo.reserved})

    def group(device: str) -> str:
        if device in node_su:
            return f"su{node_su[device]:0{su_w}d}"
        s = by_name[device]
        if s.role == "leaf":
            return f"su{s.su:0{su_w}d}"
        if s.role == "spine":
            return "spines" if sh.tiers == 2 else f"r{s.rail}-g{s.pod}"
        return "cores"

    layers: list[list[_Box]] = []
    if sh.tiers == 3:
        layers.append(
            [
                _Box(
                    "cores",
                    f"core tier · {sh.cores_per_plane * sh.inp.planes}",
                    "tier",
                    f"{sh.spines} core groups of {sh.cores_per_group}",
                )
            ]
        )
        layers.append(
            [
                _Box(
                    f"r{r}-g{g + 1}",
                    f"rail {r} pod {g + 1} · {sh.spines}",
                    "pod",
                    f"spine pod {g + 1} of rail {r}: {sh.spines} spines",
                )
                for r in range(sh.inp.rails)
                for g in range(sh.pods_per_rail)
            ]
        )
    else:
        layers.append(
            [
                _Box(
                    "spines",
                    f"spine tier · {sh.spines * sh.inp.planes}",
                    "pod",
                    f"{sh.spines} spines per plane",
                )
            ]
        )
    nodes = Counter(n.su for n in topo.nodes)
    layers.append(
        [
            _Box(
                f"su{su:0{su_w}d}",
                f"SU{su:0{su_w}d} · {nodes[su]}",
                "su",
                f"SU {su}: {nodes[su]} nodes, {sh.inp.rails * sh.leaves_per_rail_per_su} leaves",
            )
            for su in range(1, sh.sus + 1)
        ]
    )
    edges: Counter[tuple[str, str]] = Counter()
    for c in topo.cables:
        if c.tier in ("leaf-spine", "spine-core"):
            edges[(group(c.b_device), group(c.a_device))] += 1
    return layers, edges


def render(topo: Topology, *, level: str = "rail", highlight: frozenset[str] = frozenset()) -> str:
    """SVG text of the fabric at `level` (su, rail or full); `highlight` boxes are outlined red.
    A plan of several compute fabrics draws them side by side, each titled with its name and
    transport (they share no switch, so no line joins them)."""
    if not topo.several_fabrics:
        width, height, body = _draw(topo, level, highlight, "")
        return _svg(width, height, body)
    parts = [
        _draw(topo.view(f.name), level, highlight, f" · fabric {f.name} ({f.transport})")
        for f in topo.fabrics
    ]
    width = sum(w for w, _, _ in parts)
    height = max(h for _, h, _ in parts)
    body = [f'<rect width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>']
    x = 0.0
    for w, h, lines in parts:
        body.append(
            f'<svg x="{x:.0f}" y="0" width="{w:.0f}" height="{h:.0f}" '
            f'viewBox="0 0 {w:.0f} {h:.0f}">'
        )
        body += lines
        body.append("</svg>")
        x += w
    return _svg(width, height, body)


def _svg(width: float, height: float, body: list[str]) -> str:
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="DejaVu Sans, sans-serif">',
        "<style>.edge{stroke:#6c757d;stroke-opacity:.6}.box{stroke:#264653;stroke-width:1}"
        ".hot{stroke:#d00000;stroke-width:3}.lbl{fill:#1d3557}"
        ".title{font-size:16px;fill:#1d3557;font-weight:bold}</style>",
        *body,
        "</svg>",
    ]
    return "\n".join(out) + "\n"


def _draw(
    topo: Topology, level: str, highlight: frozenset[str], subtitle: str
) -> tuple[float, float, list[str]]:
    """One fabric's picture: its width, height and elements (no <svg> wrapper)."""
    layers, edges = {"full": _full, "rail": _rail, "su": _su}[level](topo)
    widest = max(len(layer) for layer in layers)
    width = max(900.0, min(4000.0, widest * 70.0 + 80))
    layer_h, box_h = 150.0, 30.0
    height = 60 + layer_h * (len(layers) - 1) + box_h + 30
    pos: dict[str, tuple[float, float, float]] = {}  # key -> (x, y, box width)
    out = [
        f'<rect width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>',
        f'<text class="title" x="20" y="28">{escape(topo.name)}{escape(subtitle)} · '
        f"{topo.shape.tiers} tiers · {len(topo.nodes)} nodes · level {level}</text>",
    ]
    for li, layer in enumerate(layers):
        # every layer spreads over the full width, its boxes as wide as its slots allow
        slot = (width - 40) / len(layer)
        box_w = min(160.0, slot * 0.86)
        y = 60 + li * layer_h
        for i, box in enumerate(layer):
            pos[box.key] = (20 + i * slot + (slot - box_w) / 2, y, box_w)
    heaviest = max(edges.values(), default=1)
    for (top, bottom), n in sorted(edges.items()):
        if top not in pos or bottom not in pos:
            continue
        (x1, y1, w1), (x2, y2, w2) = pos[top], pos[bottom]
        sw = 0.6 + 2.4 * n / heaviest
        out.append(
            f'<line class="edge" x1="{x1 + w1 / 2:.1f}" y1="{y1 + box_h:.1f}" '
            f'x2="{x2 + w2 / 2:.1f}" y2="{y2:.1f}" stroke-width="{sw:.2f}">'
            f"<title>{escape(top)} — {escape(bottom)}: {n} link(s)</title></line>"
        )
    for layer in layers:
        for box in layer:
            x, y, w = pos[box.key]
            hot = " hot" if box.key in highlight else ""
            font = max(5.0, min(12.0, (w - 6) / (0.62 * max(len(box.label), 1))))
            out.append(
                f"<g data-name={quoteattr(box.key)}><title>{escape(box.title)}</title>"
                f'<rect class="box{hot}" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" '
                f'height="{box_h:.0f}" rx="4" fill="{_COLORS[box.kind]}"/>'
                f'<text class="lbl" x="{x + w / 2:.1f}" y="{y + 19:.1f}" '
                f'text-anchor="middle" font-size="{font:.1f}">{escape(box.label)}</text></g>'
            )
    return width, height, out
