"""The Discord door: one feature per module; modules starting with ``_`` are helpers."""
