"""The cluster path: embed corpora of millions with Ray Data, resumable shard by shard.

``pip install -e '.[distributed]'``, then::

    from inbedder.distributed import embed_dataset
    run = embed_dataset("big.parquet", ["What is the topic?"], output_dir="out/big", workers=2)

The local SQLite cache stays the single-machine path; on the cluster the finished Parquet
shards under ``output_dir`` are the record of what was computed. Ray is imported only when a
function here runs, so the rest of InBedder never needs it.
"""

from inbedder.distributed.engine import EmbeddingRun, embed_dataset, require_ray

__all__ = ["EmbeddingRun", "embed_dataset", "require_ray"]
