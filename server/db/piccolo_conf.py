"""Piccolo's configuration module (``PICCOLO_CONF`` points here).

``DB`` is replaced by :func:`server.db.engine.bind` at start-up; Piccolo's own
migration runner looks it up here.
"""

from piccolo.conf.apps import AppRegistry
from piccolo.engine.sqlite import SQLiteEngine

DB = SQLiteEngine(path=":memory:")

APP_REGISTRY = AppRegistry(apps=["server.db.piccolo_app"])
