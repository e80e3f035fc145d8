"""Models: where a model comes from, fetching it, and loading it offline.

Takes a name (catalogue name, folder or hub id) and gives a loaded generator or sentence encoder.
"""
