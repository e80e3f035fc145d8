"""Bridges from InBedder to other libraries' plug-in interfaces.

Each bridge is its own module with its own optional extra (``pip install -e '.[bertopic]'`` for
:mod:`inbedder.integrations.bertopic`), so this package imports nothing heavy by itself.
"""
