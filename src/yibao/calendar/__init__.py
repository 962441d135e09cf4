"""Working-day calendar: official schedules, make-up days and working-day arithmetic."""
