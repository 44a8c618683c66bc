"""Database engine choice, migrations and units of work."""

import os

os.environ.setdefault("PICCOLO_CONF", "server.db.piccolo_conf")
