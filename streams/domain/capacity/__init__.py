"""Capacity planning: hourly demand history, a seasonal forecast and the runway to capacity."""
