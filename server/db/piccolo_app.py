"""The one Piccolo app: every table of the application and its migrations."""

import os

from piccolo.conf.apps import AppConfig

from server.db.registry import ALL_TABLES

APP_CONFIG = AppConfig(
    app_name="fieldsales",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=list(ALL_TABLES),
)
