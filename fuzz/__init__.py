"""Drivers, campaigns and the command line, above the deterministic core."""
