"""Sales contests and their leaderboards (behaviour in the scheduler issue; tables sync now)."""
