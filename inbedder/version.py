"""The package version, in a module of its own.

Saved clusterings and reports record it; reading it here rather than from ``inbedder`` (the
public facade, which imports the embedder and the clusterer on demand) keeps the stages below
the facade.
"""

__version__ = "0.1.0"
