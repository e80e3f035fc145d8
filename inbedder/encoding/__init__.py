"""Encoding: texts and a question in, one vector (and the generated answer) per text out.

:class:`~inbedder.encoding.embedder.InBedder` is the front; the engine plans, runs, pools and caches.
"""
