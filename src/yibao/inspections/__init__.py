"""四到位: the bureau's inspections of stations and the station master's open items."""
