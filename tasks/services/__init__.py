"""Writes for the tasks app, one module per sub-domain."""
