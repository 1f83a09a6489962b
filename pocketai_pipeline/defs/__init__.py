"""The Dagster layer: assets, checks, jobs, partitions, resources, IO managers, schedules and sensors.

Thin shells around the plain steps in hub/, sync/ and catalog/; definitions.py wires them together.
"""
