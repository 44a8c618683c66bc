"""PostGIS interop: publish territories and accounts as GIS layers, import boundary layers.

The one place SQLAlchemy and GeoAlchemy2 are used. The application's own data
stays in Piccolo: this package reads it through Piccolo and writes the
published layers (a separate schema, ``gis`` by default) through SQLAlchemy
Core with GeoAlchemy2 types, on its own asyncpg connection. Customer boundary
layers are reflected with SQLAlchemy and turned into territories through the
territory service. See docs/GIS.md.

Modules: ``tables`` (the published layers), ``connection`` (the SQLAlchemy
engine, PostGIS checks, identifier rules), ``publish``, ``boundaries``
(read a customer's layer, import it), ``orgs`` (org lookup, the admin scope the
CLI acts as), ``cli`` (the ``fieldsales gis`` commands), ``errors``.
"""

#: Schema the layers are published to unless ``--schema`` says otherwise.
DEFAULT_SCHEMA = "gis"
