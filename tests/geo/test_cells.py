"""H3 cells and coordinate order (server/geo/cells.py): properties, then bad input."""

import math

import h3
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from server.geo.cells import (
    MAX_TERRITORY_RESOLUTION,
    MIN_TERRITORY_RESOLUTION,
    POINT_RESOLUTION,
    TERRITORY_RESOLUTION,
    adjacency,
    cell_area_km2,
    cell_outline,
    cell_to_children,
    cell_to_latlng,
    cell_to_parent,
    check_resolution,
    child_range,
    compact,
    connected_components,
    disk,
    disk_around,
    distance_km,
    geojson_point_to_cell,
    grid_distance,
    is_contiguous,
    is_valid_cell,
    latlng_to_cell,
    latlng_to_position,
    neighbors,
    position_to_latlng,
    resolution_of,
    ring,
    uncompact,
)
from server.geo.outlines import cells_to_geojson, geojson_to_cells

lats = st.floats(-89.9, 89.9)
lngs = st.floats(-179.9, 179.9)
# Where outlines are well behaved: no pole, no antimeridian, north of the Antarctic rule.
land_lats = st.floats(-55.0, 70.0)
land_lngs = st.floats(-170.0, 170.0)
territory_res = st.integers(MIN_TERRITORY_RESOLUTION, MAX_TERRITORY_RESOLUTION)

CHICAGO = (41.8781, -87.6298)
PARIS = (48.8566, 2.3522)


def no_pentagon(cells):
    return not any(h3.is_pentagon(c) for c in cells)


def square(lng, lat, size=0.05):
    """A closed GeoJSON ring, counter-clockwise, [lng, lat]."""
    return [[lng, lat], [lng + size, lat], [lng + size, lat + size], [lng, lat + size], [lng, lat]]


def cell_reach_km(cell):
    centre = cell_to_latlng(cell)
    return max(distance_km(centre, v) for v in h3.cell_to_boundary(cell))


# -- properties ----------------------------------------------------------------

@given(lats, lngs, st.integers(0, 15))
def test_a_point_lies_within_its_cell(lat, lng, res):
    cell = latlng_to_cell(lat, lng, res)
    assert resolution_of(cell) == res and is_valid_cell(cell)
    assert distance_km((lat, lng), cell_to_latlng(cell)) <= cell_reach_km(cell) * 1.001 + 1e-6
    assert latlng_to_cell(*cell_to_latlng(cell), res) == cell


@given(lats, lngs, st.integers(0, 12), st.integers(0, 3))
def test_parent_and_children_round_trip(lat, lng, res, up):
    cell = latlng_to_cell(lat, lng, res)
    parent = cell_to_parent(cell, max(res - up, 0))
    children = cell_to_children(parent, res)
    assert cell in children
    assert {cell_to_parent(c, resolution_of(parent)) for c in children} == {parent}
    assert len(children) == (7 ** (res - resolution_of(parent)) if not h3.is_pentagon(parent)
                             else h3.cell_to_children_size(parent, res))
    assert compact(children) == [parent]


@given(lats, lngs, st.integers(4, 9), st.integers(0, 2), st.integers(1, 6))
def test_child_range_selects_exactly_the_descendants(lat, lng, res, finer, k):
    """``h3_cell BETWEEN lo AND hi`` on text holds a cell's points and no one else's."""
    cell = latlng_to_cell(lat, lng, max(res - finer, 0))
    lo, hi = child_range(cell, res)
    around = disk(latlng_to_cell(lat, lng, res), k)
    inside = {c for c in around if lo <= c <= hi}
    assert inside == {c for c in around if cell_to_parent(c, resolution_of(cell)) == cell}
    assert resolution_of(lo) == resolution_of(hi) == res


@st.composite
def mixed_disks(draw):
    """(cells at one resolution, the same area with some cells split into their children)."""
    res = draw(st.integers(MIN_TERRITORY_RESOLUTION, POINT_RESOLUTION - 1))
    centre = latlng_to_cell(draw(land_lats), draw(land_lngs), res)
    cells = disk(centre, draw(st.integers(0, 5)))
    split = draw(st.sets(st.sampled_from(cells)))
    mixed = [c for c in cells if c not in split] + uncompact(split, res + 1)
    return sorted(cells), mixed


@settings(max_examples=60)
@given(mixed_disks())
def test_compact_and_uncompact_round_trip_at_mixed_resolutions(case):
    cells, mixed = case
    res = resolution_of(cells[0])
    packed = compact(mixed)
    assert packed == compact(cells) == sorted(h3.compact_cells(cells))
    assert compact(packed) == packed
    assert uncompact(packed, res) == cells
    assert uncompact(mixed + cells, res + 1) == uncompact(cells, res + 1)  # duplicates, overlaps


@settings(max_examples=40, deadline=None)
@given(land_lats, land_lngs, territory_res, st.integers(0, 4))
def test_outline_of_a_disk_round_trips_to_the_same_cells(lat, lng, res, k):
    cells = disk(latlng_to_cell(lat, lng, res), k)
    assume(no_pentagon(cells))
    outline = cells_to_geojson(cells)
    assert outline["type"] == "MultiPolygon" and len(outline["coordinates"]) == 1
    (exterior,) = outline["coordinates"][0]
    assert exterior[0] == exterior[-1]
    # GeoJSON order: the first value is the longitude.
    reach = (2 * k + 2) * cell_reach_km(cells[0])
    assert all(distance_km((p[1], p[0]), (lat, lng)) <= reach for p in exterior)
    assert geojson_to_cells(outline, res) == sorted(cells)
    # compacted (mixed resolution) input draws the same area
    assert geojson_to_cells(cells_to_geojson(compact(cells)), res) == sorted(cells)


@settings(max_examples=25, deadline=None)
@given(mixed_disks())
def test_outline_of_a_mixed_set_is_drawn_at_its_finest_resolution(case):
    cells, mixed = case
    assume(no_pentagon(cells))
    fine = resolution_of(cells[0]) + 1
    assert geojson_to_cells(cells_to_geojson(mixed), fine) == uncompact(cells, fine)


@settings(max_examples=25, deadline=None)
@given(land_lats, land_lngs, territory_res, st.integers(1, 3))
def test_outline_of_a_hollow_ring_keeps_its_hole(lat, lng, res, k):
    cells = ring(latlng_to_cell(lat, lng, res), k)
    assume(no_pentagon(cells))
    outline = cells_to_geojson(cells)
    (polygon,) = outline["coordinates"]
    assert len(polygon) == 2 and all(r[0] == r[-1] for r in polygon)
    assert geojson_to_cells(outline, res) == cells


@given(lats, lngs, territory_res)
def test_geojson_positions_are_lng_lat(lat, lng, res):
    direct = latlng_to_cell(lat, lng, res)
    position = latlng_to_position(lat, lng)
    assert position == [lng, lat]
    assert position_to_latlng(position) == (lat, lng)
    assert geojson_point_to_cell({"type": "Point", "coordinates": position}, res) == direct


@given(st.floats(-89.9, 89.9), st.floats(1.0, 90.0), territory_res)
def test_swapping_lat_and_lng_lands_elsewhere(lat, off_diagonal, res):
    lng = lat + off_diagonal if lat + off_diagonal <= 89.9 else lat - off_diagonal
    direct = latlng_to_cell(lat, lng, res)
    assume(distance_km((lat, lng), (lng, lat)) > 2 * cell_reach_km(direct))  # off the diagonal
    assert latlng_to_cell(lng, lat, res) != direct
    assert geojson_point_to_cell({"type": "Point", "coordinates": [lat, lng]}, res) != direct


@given(lats, st.floats(-179.9, -90.1) | st.floats(90.1, 179.9))
def test_a_swapped_position_beyond_90_degrees_is_refused(lat, lng):
    with pytest.raises(ValueError, match="looks like \\[lat, lng\\]"):
        position_to_latlng([lat, lng])


@given(lats, lngs, st.integers(0, 12), st.integers(0, 6))
def test_ring_and_disk_sizes(lat, lng, res, k):
    centre = latlng_to_cell(lat, lng, res)
    cells = disk(centre, k)
    assert centre in cells and len(set(cells)) == len(cells)
    assume(no_pentagon(cells))
    assert cells[0] == centre
    assert len(cells) == 1 + 3 * k * (k + 1)
    assert len(ring(centre, k)) == (6 * k if k else 1)
    assert set(cells) == set().union(*(ring(centre, i) for i in range(k + 1)))
    if res >= 6:  # coarse disks can span icosahedron faces, where h3 cannot measure steps
        assert all(grid_distance(centre, c) == k for c in ring(centre, k))


@settings(max_examples=50)
@given(mixed_disks())
def test_a_disk_is_contiguous_at_any_mix_of_resolutions(case):
    cells, mixed = case
    assert is_contiguous(cells) and is_contiguous(mixed) and is_contiguous(compact(mixed))


@settings(max_examples=50)
@given(land_lats, land_lngs, territory_res, st.integers(0, 3), st.integers(0, 3))
def test_two_far_disks_are_not_contiguous(lat, lng, res, k1, k2):
    a = latlng_to_cell(lat, lng, res)
    b = latlng_to_cell(lat, lng + 10, res)
    cells = disk(a, k1) + disk(b, k2)
    assert not is_contiguous(cells)
    components = connected_components(cells)
    assert sorted(map(sorted, components)) == sorted([sorted(disk(a, k1)), sorted(disk(b, k2))])
    assert [len(c) for c in components] == sorted((len(c) for c in components), reverse=True)


@settings(max_examples=40)
@given(land_lats, land_lngs, territory_res, st.integers(2, 4))
def test_removing_a_ring_splits_a_disk(lat, lng, res, k):
    centre = latlng_to_cell(lat, lng, res)
    cells = set(disk(centre, k)) - set(ring(centre, 1))
    assume(no_pentagon(cells))
    assert [len(c) for c in connected_components(cells)] == [len(cells) - 1, 1]


@settings(max_examples=40, deadline=None)
@given(land_lats, land_lngs, st.sampled_from([7, 8, 9]), st.floats(0.0, 3.0),
       st.floats(0.0, 1.0), st.floats(0.0, 2 * math.pi))
def test_disk_around_covers_every_point_within_the_radius(lat, lng, res, radius, share, bearing):
    # a point at distance share * radius on the given bearing (spherical destination)
    d = share * radius / 6371.0088
    p1, l1 = math.radians(lat), math.radians(lng)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(bearing))
    l2 = l1 + math.atan2(math.sin(bearing) * math.sin(d) * math.cos(p1),
                         math.cos(d) - math.sin(p1) * math.sin(p2))
    point = (math.degrees(p2), math.degrees(l2))
    cells = disk_around(lat, lng, radius, res)
    assume(no_pentagon(cells))
    assert latlng_to_cell(*point, res) in cells


# -- examples and bad input ------------------------------------------------------

def test_lat_lng_order():
    # Chicago is at lat 41.88, lng -87.63; swapped it would be in Antarctica's ocean.
    lat, lng = cell_to_latlng(latlng_to_cell(*CHICAGO))
    assert abs(lat - 41.8781) < 0.01 and abs(lng + 87.6298) < 0.01
    with pytest.raises(ValueError):
        latlng_to_cell(-87.6298 - 100, 41.8781)


def test_resolutions():
    assert MIN_TERRITORY_RESOLUTION <= TERRITORY_RESOLUTION <= POINT_RESOLUTION
    assert check_resolution(7) == 7
    for bad in (3, 10, 7.0, True, "7", None):
        with pytest.raises(ValueError, match="resolution must be an integer from 4 to 9"):
            check_resolution(bad)
    assert check_resolution(12, 0, 15) == 12
    with pytest.raises(ValueError, match="resolution"):
        latlng_to_cell(*CHICAGO, 16)


def test_cells_are_validated_and_spelled_one_way():
    cell = latlng_to_cell(*CHICAGO)
    assert compact([cell.upper(), "0x" + cell, cell]) == [cell]
    for bad in ("chicago", "", 123, None):
        assert not is_valid_cell(bad)
        with pytest.raises(ValueError, match="not an H3 cell"):
            compact([cell, bad])
    with pytest.raises(ValueError, match="one string"):
        compact(cell)


def test_hierarchy_refuses_the_wrong_direction():
    cell = latlng_to_cell(*CHICAGO, 7)
    assert cell_to_parent(cell, 7) == cell
    with pytest.raises(ValueError, match="no parent at finer resolution 8"):
        cell_to_parent(cell, 8)
    with pytest.raises(ValueError, match="finer than the target resolution 6"):
        cell_to_children(cell, 6)
    with pytest.raises(ValueError, match="finer than the target resolution 6"):
        uncompact([cell_to_parent(cell, 5), cell], 6)
    with pytest.raises(ValueError, match="more than the limit"):
        uncompact([cell_to_parent(cell, 0)], 12)
    assert uncompact([], 7) == [] and compact([]) == []


def test_pentagons_have_five_neighbours():
    pentagon = h3.get_pentagons(7)[0]
    assert len(neighbors(pentagon)) == 5
    assert len(ring(pentagon, 2)) == 10 and len(disk(pentagon, 2)) == 16
    assert is_contiguous(disk(pentagon, 2))
    assert h3.cell_to_children_size(pentagon, 8) == 6 and compact(uncompact([pentagon], 8)) == [pentagon]


def test_adjacency_across_resolutions():
    coarse = latlng_to_cell(*CHICAGO, 6)
    fine = [c for n in ring(coarse, 1) for c in cell_to_children(n, 8)]
    graph = adjacency([coarse, *fine])
    touching = graph[coarse]
    assert touching and all(resolution_of(c) == 8 for c in touching)
    assert all(coarse in graph[c] for c in touching)
    assert all(coarse not in graph[c] for c in fine if c not in touching)
    # the fine cells touching the coarse one are those with a neighbour inside it
    assert set(touching) == {c for c in fine
                             if any(cell_to_parent(n, 6) == coarse for n in neighbors(c))}
    assert is_contiguous([coarse, *fine])
    with pytest.raises(ValueError, match="cells overlap"):
        adjacency([coarse, cell_to_children(coarse, 7)[0]])
    assert not is_contiguous([])


def test_distances_and_areas():
    assert distance_km(CHICAGO, PARIS) == pytest.approx(6_650, rel=0.01)
    assert distance_km(CHICAGO, CHICAGO) == 0
    with pytest.raises(ValueError, match="out of range"):
        distance_km(CHICAGO, (CHICAGO[1], 200))
    assert cell_area_km2(latlng_to_cell(*CHICAGO, 9)) == pytest.approx(0.105, rel=0.3)
    outline = cell_outline(latlng_to_cell(*CHICAGO, 9))
    assert len(outline) == 7 and outline[0] == outline[-1]
    assert all(abs(lng - CHICAGO[1]) < 0.01 and abs(lat - CHICAGO[0]) < 0.01 for lng, lat in outline)


def test_geojson_polygons_with_holes_and_multipolygons():
    lng, lat = CHICAGO[1], CHICAGO[0]
    outer, hole = square(lng, lat, 0.1), square(lng + 0.03, lat + 0.03, 0.04)[::-1]
    full = geojson_to_cells({"type": "Polygon", "coordinates": [outer]}, 9)
    holed = geojson_to_cells({"type": "Polygon", "coordinates": [outer, hole]}, 9)
    inner = geojson_to_cells({"type": "Polygon", "coordinates": [hole[::-1]]}, 9)
    assert set(holed) == set(full) - set(inner) and inner
    middle = latlng_to_cell(lat + 0.05, lng + 0.05)
    assert middle in full and middle not in holed
    other = square(lng + 1, lat, 0.1)
    elsewhere = geojson_to_cells({"type": "Polygon", "coordinates": [other]}, 9)
    multi = {"type": "MultiPolygon", "coordinates": [[outer, hole], [other], [outer]]}
    assert geojson_to_cells(multi, 9) == sorted(set(full) | set(elsewhere))
    # positions may carry an altitude
    assert geojson_to_cells({"type": "Polygon", "coordinates": [[[*p, 180.0] for p in outer]]}, 9) == full
    assert geojson_to_cells({"type": "MultiPolygon", "coordinates": []}, 7) == []
    assert geojson_to_cells({"type": "Polygon", "coordinates": []}, 7) == []
    # too small to hold a cell centre at resolution 4
    assert geojson_to_cells({"type": "Polygon", "coordinates": [square(lng, lat, 0.001)]}, 4) == []


@pytest.mark.parametrize(("geometry", "message"), [
    (None, "expected a GeoJSON Polygon or MultiPolygon geometry, got 'NoneType'"),
    ({"type": "Feature", "geometry": {}}, "got 'Feature'"),
    ({"type": "Point", "coordinates": [0, 0]}, "got 'Point'"),
    ({"type": "Polygon", "coordinates": "nope"}, "coordinates must be an array"),
    ({"type": "Polygon", "coordinates": [square(2, 48)[:3]]}, "at least 4 positions"),
    ({"type": "Polygon", "coordinates": [square(2, 48)[:-1] + [[2.01, 48]]]}, "not closed"),
    ({"type": "MultiPolygon", "coordinates": [[square(2, 48)], []]}, "polygon 1: expected a non-empty"),
    ({"type": "Polygon", "coordinates": [[[2, 48], [2, "48"], [3, 49], [2, 48]]]},
     "position 1: expected \\[lng, lat\\] numbers"),
    ({"type": "Polygon", "coordinates": [[[2, 48], [float("nan"), 48], [3, 49], [2, 48]]]},
     "expected \\[lng, lat\\] numbers"),
    ({"type": "Polygon", "coordinates": [[[2, 48], [True, 48], [3, 49], [2, 48]]]},
     "expected \\[lng, lat\\] numbers"),
    ({"type": "Polygon", "coordinates": [square(190, 10)]}, "out of range"),
    ({"type": "Polygon", "coordinates": [[[2, 48], [3, 48], [4, 48], [2, 48]]]}, "no area"),
    ({"type": "Polygon", "coordinates": [[[2, 48], [3, 49], [3, 48], [2, 49], [2, 48]]]},
     "self-intersecting: ring 0 edge \\d crosses ring 0 edge \\d"),
    ({"type": "Polygon", "coordinates": [square(2, 48, 1), square(2.5, 47.5, 1)[::-1]]},
     "self-intersecting: ring 1 edge \\d crosses ring 0 edge \\d"),
    ({"type": "Polygon", "coordinates": [[[179, 0], [-179, 0], [-179, 1], [179, 1], [179, 0]]]},
     "edge 0 crosses the antimeridian"),
])
def test_bad_geojson_is_refused_clearly(geometry, message):
    with pytest.raises(ValueError, match=message):
        geojson_to_cells(geometry, 7)


def test_swapped_positions_are_refused():
    lng, lat = -122.42, 37.77  # San Francisco: swapped, the "latitude" is -122
    swapped = [[y, x] for x, y in square(lng, lat)]
    with pytest.raises(ValueError, match=r"position 0 \[37.77, -122.42\] looks like \[lat, lng\]"):
        geojson_to_cells({"type": "Polygon", "coordinates": [swapped]}, 7)
    # Chicago swapped is a valid position, in Antarctica: refused unless asked for
    swapped = [[y, x] for x, y in square(CHICAGO[1], CHICAGO[0], 1.0)]
    with pytest.raises(ValueError, match="south of 60°S: it looks like \\[lat, lng\\]"):
        geojson_to_cells({"type": "Polygon", "coordinates": [swapped[::-1]]}, 7)
    assert geojson_to_cells({"type": "Polygon", "coordinates": [swapped[::-1]]}, 7,
                            allow_antarctic=True)
    # Paris swapped ([48.86, 2.35]) is Somalia's coast: only the caller knows, through ``near``
    swapped = [[y, x] for x, y in square(PARIS[1], PARIS[0])][::-1]
    somalia = geojson_to_cells({"type": "Polygon", "coordinates": [swapped]}, 7)
    assert somalia and distance_km(cell_to_latlng(somalia[0]), (2.35, 48.86)) < 20
    with pytest.raises(ValueError, match="km if its positions were \\[lat, lng\\]"):
        geojson_to_cells({"type": "Polygon", "coordinates": [swapped]}, 7, near=(48.0, 2.0))
    right = {"type": "Polygon", "coordinates": [square(PARIS[1], PARIS[0])]}
    assert geojson_to_cells(right, 7, near=(48.0, 2.0))
    # near the diagonal both readings are close: nothing to refuse
    diagonal = {"type": "Polygon", "coordinates": [square(30.0, 30.2)]}
    assert geojson_to_cells(diagonal, 7, near=(30.1, 30.0))


def test_a_polygon_too_large_for_its_resolution_is_refused_before_work():
    texas = {"type": "Polygon", "coordinates": [square(-106.0, 26.0, 10.0)]}
    with pytest.raises(ValueError, match="about [\\d,]+ cells at resolution 12"):
        geojson_to_cells(texas, 12)
    assert len(geojson_to_cells(texas, 4)) > 300


def test_outline_of_nothing_is_an_empty_multipolygon():
    assert cells_to_geojson([]) == {"type": "MultiPolygon", "coordinates": []}
    assert geojson_to_cells(cells_to_geojson([]), 7) == []
