"""Reports: station dashboards, the bureau overview, exports."""
