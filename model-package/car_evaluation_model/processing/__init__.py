"""Data loading, feature encoding and input validation."""
