"""Metrics: daily per-rep rollups of activity and pipeline, and their roll-ups by period, team, territory."""
