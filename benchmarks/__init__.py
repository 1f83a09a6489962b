"""Benchmarks of the sync; run `make bench`."""
