"""Every job of the application: the modules that declare them, imported once."""

from __future__ import annotations

import importlib

from server.jobs.registry import JOBS, JobSpec

#: Modules whose ``@job`` functions make up the catalogue.
MODULES = ("server.jobs.core", "server.metrics.jobs", "server.incentives.jobs", "server.notify.jobs")


def load(extra: str = "") -> dict[str, JobSpec]:
    """The catalogue, with ``extra`` (comma-separated module names, ``FIELDSALES_JOB_MODULES``) added."""
    for name in (*MODULES, *(m.strip() for m in extra.split(",") if m.strip())):
        importlib.import_module(name)
    return dict(JOBS)
