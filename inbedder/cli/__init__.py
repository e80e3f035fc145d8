"""The ``inbedder`` command: argparse in, the stages above called with dataclasses and plain values.

Nothing below this package sees an argparse ``Namespace``.
"""
