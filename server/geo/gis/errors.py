"""The one error of the GIS commands (kept free of SQLAlchemy so the CLI loads fast)."""


class GisError(Exception):
    """A GIS command cannot go on; the message says why and what to do (the CLI prints it)."""
