"""Turn (instruction, text) pairs into token ids for the model.

The prompt is a template with ``{input}`` and ``{instruction}`` slots. When a prompt would
exceed the length limit, only the *input* is shortened: the instruction and the response
marker are what make the embedding an answer to the user's question, so they are never cut.

:class:`PromptBuilder` holds no per-call state: the answer prefix (which differs per question)
is an argument of every call, so two questions can never see each other's prefix and the
cache key of a call depends only on that call's arguments.
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
_SLOTS = ("{input}", "{instruction}")


def looks_like_template(value: object) -> bool:
    """Whether a recorded value (an adapter's ``template``) names a template or is one."""
    return isinstance(value, str) and (value in NAMED_TEMPLATES or "{input}" in value)


def validate_template(template: str, tokenizer: object | None = None) -> None:
    """Fail early, in one line, on a template that cannot hold the input and instruction,
    or that needs a chat model when ``tokenizer`` has no chat template."""
    if template in CHAT_SYSTEM_PROMPTS and tokenizer is not None and not getattr(tokenizer, "chat_template", None):
        raise InBedderError(
            f"template {template!r} needs a chat model, but this tokenizer has no chat format; use 'inbedder' "
            "or a string with {input} and {instruction}", parameter="template",
        )
    if template in NAMED_TEMPLATES:
        return
    for slot in _SLOTS:
        if slot not in template:
            raise InBedderError(
                f"template {template!r} has no {slot} slot; write one that contains both "
                f"{{input}} and {{instruction}}, or use one of: {', '.join(NAMED_TEMPLATES)}", parameter="template",
            )
    if template.index("{input}") > template.index("{instruction}"):
        logger.info("template puts the instruction before the input; the input cache cannot be shared")


@dataclass
class _Tally:
    """How many inputs were cut since the last report (a log counter, never part of a key)."""

    count: int = 0


@dataclass(frozen=True)
class PromptBuilder:
    """Builds token ids of prompts, cutting only the input when the prompt is too long."""

    tokenizer: object
    template: str = INBEDDER_TEMPLATE
    max_length: int = 512
    _cuts: _Tally = field(default_factory=_Tally, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        validate_template(self.template, self.tokenizer)

    @property
    def truncated(self) -> int:
        """Inputs shortened to fit since the last :meth:`report_truncation`."""
        return self._cuts.count

    def signature(self, answer_prefix: str = "") -> str:
        """Everything about the prompt format that changes the model's input (for cache keys)."""
        body = NAMED_TEMPLATES.get(self.template, self.template)
        system = CHAT_SYSTEM_PROMPTS.get(self.template)
        return f"{self.template}|{body}|{system}|{answer_prefix}"

    def text(self, instruction: str, input_text: str, *, answer_prefix: str = "") -> str:
        """The full prompt string for one text, before tokenisation."""
        body = NAMED_TEMPLATES.get(self.template, self.template)
        filled = body.replace("{instruction}", instruction).replace("{input}", input_text)
        if self.template in CHAT_SYSTEM_PROMPTS:
            system = CHAT_SYSTEM_PROMPTS[self.template]
            turns = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": filled}]
            filled = self.tokenizer.apply_chat_template(turns, add_generation_prompt=True, tokenize=False)
        if answer_prefix and not filled[-1:].isspace():
            return f"{filled} {answer_prefix}"
        return filled + answer_prefix

    def _encode(self, prompt: str) -> list[int]:
        special = self.template not in CHAT_SYSTEM_PROMPTS  # chat templates already hold their markers
        return self.tokenizer(prompt, add_special_tokens=special)["input_ids"]

    def ids(self, instruction: str, input_text: str, *, reserve: int = 0, answer_prefix: str = "") -> list[int]:
        """Token ids of one prompt, at most ``max_length - reserve`` long.

        ``reserve`` keeps room for tokens appended after the prompt (mask slots of masked LMs).
        """
        ids = self._encode(self.text(instruction, input_text, answer_prefix=answer_prefix))
        limit = self.max_length - reserve
        if len(ids) <= limit:
            return ids
        input_ids = self.tokenizer(input_text, add_special_tokens=False)["input_ids"]
        keep = len(input_ids) - (len(ids) - limit)
        while keep > 0:
            shortened = self.tokenizer.decode(input_ids[:keep])
            ids = self._encode(self.text(instruction, shortened, answer_prefix=answer_prefix))
            if len(ids) <= limit:
                self._cuts.count += 1
                return ids
            keep -= max(1, len(ids) - limit)
        raise InBedderError(
            f"max_length {self.max_length} leaves no room for the input once the instruction and "
            f"template are in ({len(ids)} tokens without it); raise max_length or shorten the instruction",
            parameter="max_length",
        )

    def report_truncation(self) -> None:
        """Say once, in the log, how many inputs were shortened to fit."""
        if self._cuts.count:
            logger.warning(
                "%d text(s) were longer than max_length %d tokens with the prompt; their input was "
                "cut to fit (raise max_length to keep more)", self._cuts.count, self.max_length
            )
            self._cuts.count = 0
