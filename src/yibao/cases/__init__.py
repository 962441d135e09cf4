"""Cases (办件): intake, lifecycle, deadlines, queues."""
