"""The names of the encoding methods, kept free of heavy imports.

The command line lists these names in ``--help`` and checks ``--method`` before anything
loads torch, so they live here rather than beside the encoders that implement them.
"""

from __future__ import annotations

DIRECT_METHODS = ("1st-gen", "avg-gen", "last-gen", "avg-ppt", "avg-all")
"""Methods that pool the LM's own hidden states (paper §4.1)."""

SENTENCE_METHODS = ("re-enc", "prompt")
"""Methods that run a sentence encoder: over sampled answers (re-enc) or instruction ⊕ text (prompt)."""

METHODS = DIRECT_METHODS + SENTENCE_METHODS
