"""Token ids and labels for one training example, laid out exactly as InBedder embeds.

The prompt comes from the same :class:`~inbedder.encoding.prompts.PromptBuilder` the embedder uses, so
a model is always trained with the template it is later embedded with (the paper's released
script silently switched to the Alpaca order for its own data; this cannot). Loss falls only on
the answer: the answer tokens plus end-of-sequence for causal and seq2seq models, a fixed row
of mask slots for masked LMs (paper §5.1).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from inbedder.finetune.data import QAExample
from inbedder.encoding.encoders.masked import add_mask_slots
from inbedder.models.loading import MASKED, SEQ2SEQ
from inbedder.encoding.prompts import PromptBuilder

IGNORE = -100  # label value the loss skips (prompt tokens, padding)


@dataclass
class FeatureBuilder:
    """Turns :class:`QAExample` into ``{"input_ids", "labels"}`` for one model family."""

    tokenizer: object
    family: str
    template: str
    max_length: int = 512
    mask_slots: int = 3

    def __post_init__(self) -> None:
        self.prompts = PromptBuilder(self.tokenizer, self.template, self.max_length)
        self.cut_answers = 0  # masked LM answers longer than the mask slots

    def __call__(self, example: QAExample) -> dict[str, list[int]]:
        if self.family == MASKED:
            return self._masked(example)
        answer = self.answer_ids(example.answer) + [self._end_id()]
        if self.family == SEQ2SEQ:
            return {"input_ids": self.prompts.ids(example.instruction, example.input), "labels": answer}
        prompt = self.prompts.ids(example.instruction, example.input, reserve=len(answer))
        return {"input_ids": prompt + answer, "labels": [IGNORE] * len(prompt) + answer}

    def answer_ids(self, answer: str) -> list[int]:
        """Answer tokens as they follow the prompt: word-initial, no special tokens."""
        ids = self.tokenizer(" " + answer, add_special_tokens=False)["input_ids"]
        if len(ids) > 1 and not self.tokenizer.decode(ids[:1]).strip():
            ids = ids[1:]  # sentencepiece tokenizers make the leading space a token of its own
        return ids

    def _masked(self, example: QAExample) -> dict[str, list[int]]:
        tokenizer = self.tokenizer
        answer = self.answer_ids(example.answer)
        if len(answer) > self.mask_slots:
            self.cut_answers += 1
        filler = self._end_id()
        answer = (answer + [filler] * self.mask_slots)[: self.mask_slots]
        prompt = self.prompts.ids(example.instruction, example.input, reserve=self.mask_slots)
        special = set(tokenizer.all_special_ids)
        ids = add_mask_slots(prompt, tokenizer.mask_token_id, self.mask_slots, special)
        start = len(prompt) - (1 if prompt and prompt[-1] in special else 0)
        labels = [IGNORE] * len(ids)
        labels[start : start + self.mask_slots] = answer
        return {"input_ids": ids, "labels": labels}

    def _end_id(self) -> int:
        tokenizer = self.tokenizer
        for candidate in (tokenizer.eos_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id):
            if candidate is not None:
                return candidate
        raise ValueError("tokenizer has no end-of-sequence, separator or padding token")


def collate(pad_id: int, *, answer_logits_only: bool = False):
    """Right-pad a batch; padded labels are ignored by the loss.

    With ``answer_logits_only`` (causal LMs whose forward takes ``logits_to_keep``), the batch asks
    the model for logits from the position before the batch's first answer token on, and carries the
    labels of those positions only: the loss is the same, but the output head (49k × 576 for SmolLM2,
    a fifth of its forward FLOPs) and its softmax no longer run over the prompt tokens whose
    logits the loss throws away.
    """

    def pad(features: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        width = max(len(f["input_ids"]) for f in features)
        label_width = max(len(f["labels"]) for f in features)
        input_ids = torch.full((len(features), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(features), width), dtype=torch.long)
        labels = torch.full((len(features), label_width), IGNORE, dtype=torch.long)
        for row, feature in enumerate(features):
            input_ids[row, : len(feature["input_ids"])] = torch.tensor(feature["input_ids"])
            mask[row, : len(feature["input_ids"])] = 1
            labels[row, : len(feature["labels"])] = torch.tensor(feature["labels"])
        batch = {"input_ids": input_ids, "attention_mask": mask, "labels": labels}
        return _answer_window(batch) if answer_logits_only else batch

    return pad


def _answer_window(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Keep the logits (and labels) from the position that predicts the earliest answer token on."""
    labels = batch["labels"]
    answered = (labels != IGNORE).any(dim=0).nonzero()
    if not len(answered):
        return batch
    start = max(int(answered[0]) - 1, 0)  # the logit at position i predicts the token at i + 1
    return {**batch, "labels": labels[:, start:].contiguous(), "logits_to_keep": labels.shape[1] - start}
