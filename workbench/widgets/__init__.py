"""Widgets of the workbench TUI: mode bar, metric plots, image grids, progress and status."""
