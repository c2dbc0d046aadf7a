"""Writes for the payments app, one module per sub-domain (``ledger``, ``fx``)."""
