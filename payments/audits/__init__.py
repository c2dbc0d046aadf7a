"""Compliance audits: checks that re-derive the product's promises from the data, and their findings."""
