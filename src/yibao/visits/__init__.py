"""Mobile-station itineraries: villages, visits, the planner, backlogs and trips saved."""
