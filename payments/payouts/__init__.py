"""Payouts: exactly once, through Stripe Connect or a manual bank file."""
