"""Field mode: a mobile team's laptop that works offline and syncs with the central node."""
