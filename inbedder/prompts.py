"""Turn (instruction, text) pairs into token ids for the model.

The prompt is a template with ``{input}`` and ``{instruction}`` slots. When a prompt would
exceed the length limit, only the *input* is shortened: the instruction and the response
marker are what make the embedding an answer to the user's question, so they are never cut.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from inbedder.errors import InBedderError

logger = logging.getLogger(__name__)

INBEDDER_TEMPLATE = "### Input:\n{input}\n\n### Instruction:\n{instruction}\n\n### Response:"
"""The template InBedder models are trained with (paper appendix; input before instruction)."""

CHAT_TEMPLATE = "chat"
"""Use the tokenizer's own chat template, the user turn holding input then instruction."""

BRIEF_CHAT_TEMPLATE = "chat-brief"
"""Chat template with a system turn asking for answers of a few words (paper §4.3: brevity)."""

NAMED_TEMPLATES = {
    "inbedder": INBEDDER_TEMPLATE,
    CHAT_TEMPLATE: "{input}\n\n{instruction}",
    BRIEF_CHAT_TEMPLATE: "{input}\n\n{instruction}",
}
CHAT_SYSTEM_PROMPTS = {CHAT_TEMPLATE: None, BRIEF_CHAT_TEMPLATE: "Answer in one to three words."}
_CHAT_NAMES = set(CHAT_SYSTEM_PROMPTS)


def validate_template(template: str) -> None:
    """Fail early, in one line, on a user template that cannot hold the input and instruction."""
    if template in NAMED_TEMPLATES:
        return
    for slot in ("{input}", "{instruction}"):
        if slot not in template:
            raise InBedderError(
                f"template {template!r} has no {slot} slot; write one that contains both "
                f"{{input}} and {{instruction}}, or use one of: {', '.join(NAMED_TEMPLATES)}"
            )
    if template.index("{input}") > template.index("{instruction}"):
        logger.info("template puts the instruction before the input; the input cache cannot be shared")


@dataclass
class PromptBuilder:
    """Builds token ids of prompts, cutting only the input when the prompt is too long."""

    tokenizer: object
    template: str = INBEDDER_TEMPLATE
    max_length: int = 512
    answer_prefix: str = ""
    truncated: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        validate_template(self.template)
        if self.template in _CHAT_NAMES and not getattr(self.tokenizer, "chat_template", None):
            raise InBedderError(
                f"template {self.template!r} needs a chat model, but this tokenizer has no chat "
                "template; use --template inbedder or a template string with {input} and {instruction}"
            )

    @property
    def signature(self) -> str:
        """Everything about the prompt format that changes the model's input (for cache keys)."""
        body = NAMED_TEMPLATES.get(self.template, self.template)
        system = CHAT_SYSTEM_PROMPTS.get(self.template)
        return f"{self.template}|{body}|{system}|{self.answer_prefix}"

    def text(self, instruction: str, input_text: str) -> str:
        """The full prompt string for one text, before tokenisation."""
        body = NAMED_TEMPLATES.get(self.template, self.template)
        filled = body.replace("{instruction}", instruction).replace("{input}", input_text)
        if self.template in _CHAT_NAMES:
            system = CHAT_SYSTEM_PROMPTS[self.template]
            turns = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": filled}]
            filled = self.tokenizer.apply_chat_template(turns, add_generation_prompt=True, tokenize=False)
        if self.answer_prefix and not filled[-1:].isspace():
            return f"{filled} {self.answer_prefix}"
        return filled + self.answer_prefix

    def _encode(self, prompt: str, add_special_tokens: bool) -> list[int]:
        return self.tokenizer(prompt, add_special_tokens=add_special_tokens)["input_ids"]

    def ids(self, instruction: str, input_text: str, reserve: int = 0) -> list[int]:
        """Token ids of one prompt, at most ``max_length - reserve`` long.

        ``reserve`` keeps room for tokens appended after the prompt (mask slots of masked LMs).
        """
        special = self.template not in _CHAT_NAMES  # chat templates already hold their markers
        ids = self._encode(self.text(instruction, input_text), special)
        limit = self.max_length - reserve
        if len(ids) <= limit:
            return ids
        input_ids = self.tokenizer(input_text, add_special_tokens=False)["input_ids"]
        overflow = len(ids) - limit
        keep = len(input_ids) - overflow
        while keep > 0:
            shortened = self.tokenizer.decode(input_ids[:keep])
            ids = self._encode(self.text(instruction, shortened), special)
            if len(ids) <= limit:
                self.truncated += 1
                return ids
            keep -= max(1, len(ids) - limit)
        raise InBedderError(
            f"--max-length {self.max_length} leaves no room for the input once the instruction and "
            f"template are in ({len(ids)} tokens without it); raise --max-length or shorten the instruction"
        )

    def report_truncation(self) -> None:
        """Say once, in the log, how many inputs were shortened to fit."""
        if self.truncated:
            logger.warning(
                "%d text(s) were longer than --max-length %d tokens with the prompt; their input was "
                "cut to fit (raise --max-length to keep more)", self.truncated, self.max_length
            )
            self.truncated = 0
