"""SVG map of a plan (server/geo/svg.py): well-formed, one path per territory, north up."""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET

import h3
from hypothesis import given, settings
from hypothesis import strategies as st

from server.geo.svg import colour, render_svg

NS = "{http://www.w3.org/2000/svg}"
CENTRE = h3.latlng_to_cell(39.0, -98.0, 7)


def _points(path_d: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in re.findall(r"(-?[\d.]+),(-?[\d.]+)", path_d)]


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 12), st.integers(1, 5), st.integers(200, 1200))
def test_one_path_per_territory_with_distinct_fills_and_a_sane_viewbox(k: int, radius: int,
                                                                       width: int) -> None:
    cells = sorted(h3.grid_disk(CENTRE, radius))
    assignment = {c: i % k for i, c in enumerate(cells)}
    svg = render_svg(assignment, width=width)
    root = ET.fromstring(svg)
    paths = root.findall(f".//{NS}path")
    used = sorted(set(assignment.values()))
    assert [int(p.get("data-territory")) for p in paths] == used
    assert len({p.get("fill") for p in paths}) == len(used)
    _, _, w, h = map(float, root.get("viewBox").split())
    assert w == width and h > 0
    for p in paths:
        assert p.get("d").count("M") == sum(1 for t in assignment.values()
                                            if t == int(p.get("data-territory")))
        for x, y in _points(p.get("d")):
            assert 0 <= x <= w and 0 <= y <= h
    assert svg == render_svg(assignment, width=width)  # deterministic


def test_north_is_up_and_east_is_right() -> None:
    north = h3.latlng_to_cell(40.0, -98.0, 6)
    south = h3.latlng_to_cell(38.0, -98.0, 6)
    east = h3.latlng_to_cell(39.0, -96.5, 6)
    root = ET.fromstring(render_svg({north: 0, south: 1, east: 2}))
    centre = {}
    for p in root.findall(f".//{NS}path"):
        pts = _points(p.get("d"))
        centre[int(p.get("data-territory"))] = (sum(x for x, _ in pts) / len(pts),
                                                sum(y for _, y in pts) / len(pts))
    assert centre[0][1] < centre[1][1]  # the northern cell is drawn higher
    assert centre[2][0] > centre[0][0]  # the eastern cell further right
    # cos(lat) scaling: 1.5 degrees of longitude at 39N is shorter than 2 degrees of latitude
    dx = centre[2][0] - centre[0][0]
    dy = centre[1][1] - centre[0][1]
    assert 0.45 < dx / dy < 0.75


def test_lumps_are_marked_and_labels_shown() -> None:
    cells = sorted(h3.grid_disk(CENTRE, 2))
    svg = render_svg({c: i % 2 for i, c in enumerate(cells)}, lumps=[cells[3]],
                     labels=["North & co", "South"])
    root = ET.fromstring(svg)
    (ring,) = root.findall(f".//{NS}circle")
    assert ring.get("data-cell") == cells[3] and ring.get("class") == "lump"
    texts = [t.text for t in root.findall(f".//{NS}text")]
    assert texts == ["North & co", "South"]


def test_colours_stay_distinct_past_the_palette() -> None:
    assert len({colour(i) for i in range(60)}) == 60


def test_empty_plan_is_still_a_document() -> None:
    root = ET.fromstring(render_svg({}))
    assert root.findall(f".//{NS}path") == []


def test_fifteen_thousand_cells_render_quickly() -> None:
    cells = sorted(h3.grid_disk(CENTRE, 70))
    assignment = {c: i % 25 for i, c in enumerate(cells)}
    t = time.perf_counter()
    svg = render_svg(assignment)
    assert time.perf_counter() - t < 1.0  # 0.5 s target on a quiet machine; slack for CI
    ET.fromstring(svg)
