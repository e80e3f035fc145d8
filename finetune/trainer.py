"""Fine-tuning of a causal, masked or seq2seq LM into an InBedder model (paper §4.4).

Built on transformers' ``Trainer`` and peft: checkpoints every ``save_steps`` so a killed run
continues with ``resume=True``; seeded; bf16 and gradient checkpointing on a GPU. By default the
output directory is a peft LoRA adapter plus ``inbedder.json`` recording base model, template and
answer length, so ``InBedder(adapter=DIR)`` alone is enough to embed with it. With ``full=True``
every weight is trained (as in the paper) and the output is a whole model, used as
``InBedder(model=DIR)``; the same ``inbedder.json`` sits beside it.
"""

from __future__ import annotations

import inspect
import json
import logging
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch

from inbedder.errors import InBedderError
from inbedder.finetune.data import PreparedData, QAExample, prepare, split_by_input
from inbedder.finetune.features import FeatureBuilder, collate
from inbedder.models.loading import CAUSAL, DEFAULT_GENERATOR, MASKED, SEQ2SEQ, check_model, load_generator, resolve_device
from inbedder.encoding.prompts import NAMED_TEMPLATES

logger = logging.getLogger(__name__)

METADATA_FILE = "inbedder.json"
CHECKPOINTS = "checkpoints"


@dataclass
class FinetuneConfig:
    """Every choice of a fine-tuning run; written into the adapter's metadata."""

    data: list[str]
    output: str
    base: str | None = None  # None: the embedded SmolLM2-135M-Instruct (minutes on CPU), not the default embedder
    template: str = "inbedder"
    full: bool = False  # train every weight instead of LoRA layers; the lora_* options are then unused
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: list[str] | None = None  # None: every linear layer but the output head
    epochs: float = 1.0
    lr: float = 2e-4
    batch_size: int = 8
    grad_accum: int = 1
    max_length: int = 512
    eval_split: float = 0.05
    seed: int = 0
    mask_slots: int = 3
    answer_tokens: int = 3  # how many tokens the embedder generates for avg-gen with this model
    save_steps: int = 50
    max_steps: int = -1
    resume: bool = False
    merge: bool = False
    device: str | None = None
    input_column: str | None = None
    instruction_column: str | None = None
    answer_column: str | None = None
    extra: dict = field(default_factory=dict)  # free-form notes kept in the metadata (e.g. the command)


@dataclass
class FinetuneResult:
    output: Path
    steps: int
    train_loss: float
    eval_loss_before: float | None
    eval_loss_after: float | None
    seconds: float
    examples_per_second: float
    train_examples: int
    eval_examples: int
    model: object = field(default=None, repr=False)  # the trained peft model, still in memory


class _Examples(torch.utils.data.Dataset):
    def __init__(self, features: list[dict[str, list[int]]]):
        self.features = features

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, index: int) -> dict[str, list[int]]:
        return self.features[index]


def finetune(
    config: FinetuneConfig,
    *,
    show_progress_bar: bool = True,
    say: Callable[[str], None] | None = None,
    prepared: PreparedData | None = None,
) -> FinetuneResult:
    """Train a LoRA adapter on QA data and write it, with its metadata, to ``config.output``."""
    say = say or (lambda line: print(line, file=sys.stderr))
    check_config(config)
    output = Path(config.output).expanduser()
    resume_from = _check_output(output, config.resume)
    device = resolve_device(config.device)
    check_model(config.base or DEFAULT_GENERATOR)
    template = _check_template(config.template)
    prepared = prepared or prepare(
        config.data, input_column=config.input_column, instruction_column=config.instruction_column,
        answer_column=config.answer_column,
    )
    say(prepared.report())
    train, held_out = split_by_input(prepared.examples, config.eval_split, seed=config.seed)

    from transformers import set_seed

    set_seed(config.seed)
    loaded = load_generator(config.base or DEFAULT_GENERATOR, device=device, dtype=torch.float32)
    builder = FeatureBuilder(loaded.tokenizer, loaded.family, template, config.max_length, config.mask_slots)
    train_set, eval_set = _features(builder, train), _features(builder, held_out)
    if builder.prompts.truncated:
        say(f"{builder.prompts.truncated} input(s) were longer than max_length ({config.max_length} tokens) with the prompt and were cut")
    if builder.cut_answers:
        say(f"{builder.cut_answers} answer(s) had more tokens than the {config.mask_slots} mask slots and were cut to fit")
    model = _full_model(loaded) if config.full else _lora_model(loaded, config, device)
    trainer = _trainer(model, loaded, config, output, train_set, eval_set, device, show_progress_bar)
    result = _train(trainer, config, output, resume_from, len(train_set), len(eval_set), say)
    result.model = model
    _save(model, loaded, config, template, prepared, result)
    if config.merge:
        _save_merged(model, loaded.tokenizer, output / "merged")
    kind = "fine-tuned model (use it as --model)" if config.full else "adapter"
    say(f"wrote {kind} to {output} ({result.steps} steps in {result.seconds:.0f} s)")
    return result


def _lora_model(loaded, config: FinetuneConfig, device: str):
    """The base model with LoRA layers, ready to train."""
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=config.target_modules or "all-linear",
        task_type={CAUSAL: "CAUSAL_LM", SEQ2SEQ: "SEQ_2_SEQ_LM", MASKED: None}[loaded.family],
    )
    model = get_peft_model(loaded.model, lora)
    model.train()
    if device.startswith("cuda"):
        model.enable_input_require_grads()  # gradient checkpointing through frozen embeddings
    return model


def _full_model(loaded):
    """The base model itself with every weight trainable (the paper's full fine-tuning)."""
    model = loaded.model
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    model.train()
    return model


def _trainer(model, loaded, config: FinetuneConfig, output: Path, train_set: list, eval_set: list, device: str,
             show_progress_bar: bool):
    """transformers' Trainer with our schedule, checkpoints and quiet progress."""
    from transformers import Trainer, TrainingArguments

    on_gpu = device.startswith("cuda")
    args = TrainingArguments(
        output_dir=str(output / CHECKPOINTS),
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        learning_rate=config.lr,
        lr_scheduler_type="cosine",
        warmup_steps=0.05,
        weight_decay=0.0,
        logging_steps=5,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=2,
        seed=config.seed,
        data_seed=config.seed,
        train_sampling_strategy="group_by_length",
        bf16=on_gpu and torch.cuda.is_bf16_supported(),
        activation_checkpointing=on_gpu,
        use_cpu=not on_gpu,
        report_to="none",
        disable_tqdm=not show_progress_bar,
        remove_unused_columns=False,
        dataloader_num_workers=0,
    )
    trainer = Trainer(
        model=model, args=args, train_dataset=_Examples(train_set),
        eval_dataset=_Examples(eval_set) if eval_set else None,
        data_collator=collate(loaded.tokenizer.pad_token_id, answer_logits_only=_keeps_logits(loaded)),
    )
    _quiet_progress(trainer)
    return trainer


def _keeps_logits(loaded) -> bool:
    """Whether the model can compute logits for the answer positions only (recent transformers causal LMs)."""
    return loaded.family == CAUSAL and "logits_to_keep" in inspect.signature(loaded.model.forward).parameters


def _train(trainer, config: FinetuneConfig, output: Path, resume_from: Path | None, n_train: int, n_eval: int,
           say: Callable[[str], None]) -> FinetuneResult:
    """Train (or continue), with the held-out loss before and after."""
    before = trainer.evaluate()["eval_loss"] if n_eval and not resume_from else None
    if before is not None:
        say(f"held-out loss before training: {before:.4f} ({n_eval} examples)")
    started = time.time()
    outcome = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    seconds = time.time() - started
    after = trainer.evaluate()["eval_loss"] if n_eval else None
    if after is not None:
        say(f"held-out loss after training: {after:.4f}")
    trained = trainer.state.global_step * config.batch_size * config.grad_accum
    return FinetuneResult(
        output, trainer.state.global_step, float(outcome.training_loss), before, after, seconds,
        trained / seconds if seconds else 0.0, n_train, n_eval,
    )


# (parameter, smallest allowed value); each must be a whole number at least that large
_WHOLE_NUMBERS = (
    ("lora_r", 1), ("lora_alpha", 1), ("batch_size", 1), ("grad_accum", 1), ("max_length", 1), ("mask_slots", 1),
    ("answer_tokens", 1), ("save_steps", 1), ("seed", 0),
)
# (parameter, whether the value is in range, what is allowed): the fractional options
_RANGES = (
    ("epochs", lambda v: v > 0, "a number above 0, such as 1 or 0.5"),
    ("lr", lambda v: v > 0, "a learning rate above 0, such as 2e-4"),
    ("lora_dropout", lambda v: 0 <= v < 1, "in [0, 1), such as 0.05"),
    ("eval_split", lambda v: 0 <= v < 1, "in [0, 1), such as 0.05 or 0 for none"),
)


def check_config(config: FinetuneConfig) -> None:
    """Refuse out-of-range options in one line each, before any data is read or model loaded.

    Without this, ``lora_r=0`` or ``lr=-1`` fail deep inside peft or transformers with a
    traceback, after the model has been loaded and the data prepared.
    """
    for name, least in _WHOLE_NUMBERS:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise InBedderError(f"{name} must be a whole number of at least {least} (got {value!r})", parameter=name)
    if config.seed > 2**32 - 1:
        raise InBedderError(f"seed must be at most {2**32 - 1} (got {config.seed})", parameter="seed")
    if config.max_steps == 0 or config.max_steps < -1:
        raise InBedderError(
            f"max_steps must be at least 1, or -1 to train for epochs (got {config.max_steps})",
            parameter=("max_steps", "epochs"),
        )
    for name, fits, allowed in _RANGES:
        value = getattr(config, name)
        if not _finite(value) or not fits(value):
            raise InBedderError(f"{name} must be {allowed} (got {value!r})", parameter=name)
    if config.full and config.merge:
        raise InBedderError(
            "`merge=True` writes a LoRA run as a whole model; a `full=True` run already is one, so drop `merge=True`",
            parameter=("merge", "full"),
        )
    if config.target_modules is not None and not all(isinstance(m, str) and m.strip() for m in config.target_modules):
        raise InBedderError("target_modules must be module names, such as q_proj and v_proj", parameter="target_modules")


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _features(builder: FeatureBuilder, examples: list[QAExample]) -> list[dict[str, list[int]]]:
    return [builder(example) for example in examples]


def _check_template(template: str) -> str:
    if template in NAMED_TEMPLATES or "{input}" in template:
        return template
    raise InBedderError(
        f"`template` {template!r} is neither a named template ({', '.join(NAMED_TEMPLATES)}) nor a "
        "string with {input} and {instruction}",
        parameter="template",
    )


def _check_output(output: Path, resume: bool) -> Path | None:
    """The checkpoint to resume from, or None; refuse to overwrite another run by accident, or a file."""
    folder = output
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if folder.exists() and not folder.is_dir():
        where = "is a file" if folder == output else f"lies under {folder}, a file"
        raise InBedderError(f"`output` {output} {where}; name a folder for the adapter and its checkpoints",
                            parameter="output")
    checkpoints = sorted(
        (output / CHECKPOINTS).glob("checkpoint-*"), key=lambda p: int(p.name.rsplit("-", 1)[-1])
    ) if (output / CHECKPOINTS).is_dir() else []
    if resume:
        if not checkpoints:
            raise InBedderError(
                f"`resume=True` but {output} holds no checkpoint to continue from; drop `resume=True` to start a new run",
                parameter="resume",
            )
        return checkpoints[-1]
    if checkpoints or (output / "adapter_config.json").exists() or (output / METADATA_FILE).exists():
        raise InBedderError(
            f"{output} already holds a fine-tuning run; pass resume=True to continue it or choose another output",
            parameter=("resume", "output"),
        )
    return None


def _quiet_progress(trainer) -> None:
    """Show the running loss in the progress bar instead of printing a dict every few steps."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    class LossInBar(ProgressCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if self.training_bar is not None and logs and "loss" in logs:
                self.training_bar.set_postfix(loss=f"{logs['loss']:.3f}", refresh=False)

    if trainer.pop_callback(ProgressCallback) is not None:
        trainer.add_callback(LossInBar)
    trainer.pop_callback(PrinterCallback)  # with the bar disabled, stay silent rather than print dicts


def _save(model, loaded, config: FinetuneConfig, template: str, prepared: PreparedData, result: FinetuneResult) -> None:
    output = result.output
    readme = output / "README.md"
    theirs = readme.read_bytes() if readme.is_file() else None  # peft writes a model card: the user's file stays
    model.save_pretrained(str(output))
    if theirs is not None:
        readme.write_bytes(theirs)
    base = _base_name(config.base, loaded.name)
    if config.full:
        loaded.tokenizer.save_pretrained(str(output))  # a whole model: loadable as `model` on its own
    else:
        adapter_config = output / "adapter_config.json"
        settings = json.loads(adapter_config.read_text())
        # The embedded model's converted copy lives in a per-machine cache; record its name instead.
        settings["base_model_name_or_path"] = base
        adapter_config.write_text(json.dumps(settings, indent=2))
    metadata = {
        "base_model": base,
        "kind": "full" if config.full else "lora",
        "family": loaded.family,
        "template": template,
        "answer_prefix": "",
        "max_new_tokens": config.mask_slots if loaded.family == MASKED else config.answer_tokens,
        "data": prepared.summary(),
        "training": {
            **{k: v for k, v in asdict(config).items() if k not in {"data", "output", "extra"}},
            "steps": result.steps,
            "train_examples": result.train_examples,
            "eval_examples": result.eval_examples,
            "train_loss": round(result.train_loss, 4),
            "eval_loss_before": None if result.eval_loss_before is None else round(result.eval_loss_before, 4),
            "eval_loss_after": None if result.eval_loss_after is None else round(result.eval_loss_after, 4),
            "seconds": round(result.seconds, 1),
        },
        **config.extra,
    }
    (output / METADATA_FILE).write_text(json.dumps(metadata, indent=2))


def _base_name(base: str | None, loaded_name: str) -> str:
    if base is None or base == DEFAULT_GENERATOR:
        return DEFAULT_GENERATOR
    local = Path(base).expanduser()
    return str(local.resolve()) if local.exists() else loaded_name


def _save_merged(model, tokenizer, target: Path) -> None:
    merged = model.merge_and_unload()
    merged.save_pretrained(str(target))
    tokenizer.save_pretrained(str(target))

