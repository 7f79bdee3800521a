"""Reusable widgets shared by the tabs."""
