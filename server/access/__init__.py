"""Who may see what: the scope matrix of SYNC.md as query conditions."""
