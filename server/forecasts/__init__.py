"""Forecasts: weighted pipeline, conversion-rate forecast and forecast categories per person,
rolled up the manager hierarchy (METRICS_CONTESTS.md, "Forecasts")."""
