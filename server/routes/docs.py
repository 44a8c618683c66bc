"""The API docs UI, served with its own assets so it works with no internet.

Swagger UI's files come from the ``swagger-ui-py`` package's ``static`` folder.
"""

from __future__ import annotations

from pathlib import Path

import swagger_ui
from litestar.static_files import create_static_files_router

ASSETS_PATH = "/schema/assets"
ASSETS_DIR = Path(swagger_ui.__file__).parent / "static"

OFFLINE_SWAGGER = {
    "path": "/swagger",
    "js_url": f"{ASSETS_PATH}/swagger-ui-bundle.js",
    "css_url": f"{ASSETS_PATH}/swagger-ui.css",
    "standalone_preset_js_url": f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
}


def static_assets():
    return create_static_files_router(
        path=ASSETS_PATH, directories=[ASSETS_DIR], include_in_schema=False, name="docs_assets",
    )
