"""Signed model updates: fetch a newer model package from a TUF repository
(``client.check``), verify it, and keep it as a candidate that is not active."""
