"""Clustering: vectors in, clusters, names, saved clusterings and question trees out.

:class:`~inbedder.clustering.estimator.InstructionClusterer` is the estimator; k-means lives in ``kmeans``.
"""
