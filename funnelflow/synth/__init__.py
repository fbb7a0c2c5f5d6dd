"""Synthetic data: companies, people, their messy arrivals, touchpoints; seeded, never the wall clock."""
