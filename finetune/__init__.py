"""Fine-tune a language model into an InBedder model: LoRA on stopword-stripped abstractive QA.

``inbedder finetune --data qa.jsonl --output runs/my-adapter`` from the command line, or::

    from inbedder.finetune import FinetuneConfig, finetune
    finetune(FinetuneConfig(data=["qa.jsonl"], output="runs/my-adapter"))
"""

from inbedder.finetune.data import PreparedData, QAExample, prepare, strip_answer
from inbedder.finetune.trainer import FinetuneConfig, FinetuneResult, finetune

__all__ = ["FinetuneConfig", "FinetuneResult", "PreparedData", "QAExample", "finetune", "prepare", "strip_answer"]
