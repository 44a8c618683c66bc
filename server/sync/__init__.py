"""Offline delta sync: the registry of synced tables, pulls, pushes and checksums (SYNC.md)."""
