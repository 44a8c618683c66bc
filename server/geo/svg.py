"""SVG map of a territory plan: every cell's hexagon, coloured by territory, north up.

Equirectangular projection scaled by cos(mean latitude), so shapes look right at
the plan's latitude; y grows southwards as SVG's does, so north is up. One
``<path>`` per territory (a subpath per cell) keeps the document small and fast
for tens of thousands of cells. Lumps are ringed. Pure and deterministic: the
same input gives the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from xml.sax.saxutils import escape

import h3

#: Twelve colours distinguishable on a map (Tableau 10 plus two); more territories get
#: evenly spaced hues after these.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
           "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#17becf", "#bcbd22")
_MARGIN = 10
_LEGEND_ROW = 16


def colour(index: int) -> str:
    if index < len(PALETTE):
        return PALETTE[index]
    hue = (index * 137.508) % 360  # golden angle: neighbours in index differ most
    return _hsl_hex(hue, 0.55, 0.55 if index % 2 else 0.42)


def render_svg(assignment: Mapping[str, int], *, lumps: Sequence[str] = (),
               labels: Sequence[str] | None = None, width: int = 800) -> str:
    cells = sorted(assignment)
    bounds = {c: h3.cell_to_boundary(c) for c in cells}
    for c in lumps:
        if c not in bounds:
            bounds[c] = h3.cell_to_boundary(c)
    territories = sorted(set(assignment.values()))
    legend_h = _LEGEND_ROW * len(territories) + _MARGIN
    if not cells:
        return _document(width, legend_h + 2 * _MARGIN, [], territories, labels, 0)
    lats = [lat for c in cells for lat, _ in bounds[c]]
    lngs = [lng for c in cells for _, lng in bounds[c]]
    north, south, west, east = max(lats), min(lats), min(lngs), max(lngs)
    kx = math.cos(math.radians((north + south) / 2))
    span_x = max((east - west) * kx, 1e-9)
    span_y = max(north - south, 1e-9)
    scale = (width - 2 * _MARGIN) / max(span_x, span_y)
    map_h = span_y * scale

    def xy(lat: float, lng: float) -> str:
        return f"{_MARGIN + (lng - west) * kx * scale:.1f},{_MARGIN + (north - lat) * scale:.1f}"

    by_t: dict[int, list[str]] = {t: [] for t in territories}
    for c in cells:
        by_t[assignment[c]].append("M" + "L".join(xy(lat, lng) for lat, lng in bounds[c]) + "Z")
    body = [f'<path class="territory" data-territory="{t}" fill="{colour(t)}" '
            f'stroke="{colour(t)}" stroke-width="0.3" d="{"".join(by_t[t])}"/>'
            for t in territories]
    for c in sorted(set(lumps)):
        lat, lng = h3.cell_to_latlng(c)
        x, y = xy(lat, lng).split(",")
        r = max(3.0, max(math.dist((float(x), float(y)), tuple(map(float, xy(*p).split(","))))
                         for p in bounds[c]) * 1.5)
        body.append(f'<circle class="lump" data-cell="{c}" cx="{x}" cy="{y}" r="{r:.1f}" '
                    'fill="none" stroke="#000" stroke-width="1.5"/>')
    height = math.ceil(map_h + 2 * _MARGIN + legend_h)
    return _document(width, height, body, territories, labels, map_h + 2 * _MARGIN)


def _document(width: int, height: int, body: list[str], territories: list[int],
              labels: Sequence[str] | None, legend_y: float) -> str:
    legend = []
    for row, t in enumerate(territories):
        y = legend_y + row * _LEGEND_ROW
        name = labels[t] if labels is not None and t < len(labels) else f"Territory {t}"
        legend.append(f'<rect x="{_MARGIN}" y="{y:.1f}" width="12" height="12" fill="{colour(t)}"/>'
                      f'<text x="{_MARGIN + 18}" y="{y + 10:.1f}" font-size="11" '
                      f'font-family="sans-serif">{escape(str(name))}</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}">'
            f'<g class="map">{"".join(body)}</g><g class="legend">{"".join(legend)}</g></svg>')


def _hsl_hex(h: float, s: float, lum: float) -> str:
    c = (1 - abs(2 * lum - 1)) * s
    x = c * (1 - abs((h / 60) % 2 - 1))
    m = lum - c / 2
    r, g, b = [(c, x, 0), (x, c, 0), (0, c, x), (0, x, c), (x, 0, c), (c, 0, x)][int(h // 60) % 6]
    return "#" + "".join(f"{round((v + m) * 255):02x}" for v in (r, g, b))
