"""``inbedder finetune``: the command-line face of :func:`inbedder.finetune.finetune`."""

from __future__ import annotations

import argparse
import sys

EPILOG = """examples:
  inbedder finetune --data data/qa/qa_part_a.jsonl --data data/qa/qa_part_b.jsonl --output runs/smol-qa
  inbedder finetune --base facebook/opt-1.3b --data KomeijiForce/Inbedder-Pretrain-Data --output runs/opt
  inbedder finetune --data qa.csv --input-column passage --instruction-column question \\
      --answer-column answer --output runs/mine --lora-r 8 --epochs 2
  inbedder finetune ... --output runs/smol-qa --resume      # continue a killed run
  inbedder cluster reviews.csv -i "What is the sentiment?" --adapter runs/smol-qa
  inbedder finetune --data qa.jsonl --output runs/full --full --lr 5e-5   # every weight, as the paper
  inbedder cluster reviews.csv -i "What is the sentiment?" --model runs/full

Answers are lower-cased and stripped of punctuation and English stopwords (paper §4.4); examples
whose answer becomes empty are dropped and counted. The adapter directory records base model,
template and answer length, so --adapter alone is enough to embed with it (--model for a --full run)."""


def register(commands) -> None:
    parser = commands.add_parser(
        "finetune", help="fine-tune a model on question answering into an InBedder model (LoRA, or every weight with --full)",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = parser.add_argument_group("data")
    data.add_argument("--data", action="append", required=True, metavar="FILE_OR_HUB_ID",
                      help="JSONL/CSV/TSV/Parquet file or dataset-hub id; repeat for several")
    data.add_argument("--input-column", help="column with the passage (default: input, context, passage or text)")
    data.add_argument("--instruction-column", help="column with the question (default: instruction, question or query)")
    data.add_argument("--answer-column", help="column with the answer (default: output, answer or response)")
    data.add_argument("--eval-split", type=float, default=0.05, help="fraction of passages held out for the loss (default %(default)s)")
    model = parser.add_argument_group("model")
    model.add_argument("--base", help="catalogue name, hub id or local model directory (default: the embedded "
                       "SmolLM2-135M-Instruct, minutes on CPU; qwen2.5-coder-1.5b, the default embedder, takes hours)")
    model.add_argument("--template", default="inbedder", help="prompt template to train and embed with (default %(default)s)")
    model.add_argument("--output", "-o", required=True, help="directory for the adapter, its metadata and checkpoints")
    model.add_argument("--merge", action="store_true", help="also write the merged full model to OUTPUT/merged")
    model.add_argument("--full", action="store_true",
                       help="train every weight (the paper's way) instead of LoRA; OUTPUT becomes a whole model, used as --model OUTPUT")
    lora = parser.add_argument_group("LoRA and optimisation")
    lora.add_argument("--lora-r", type=int, default=16, help="LoRA rank (default %(default)s)")
    lora.add_argument("--lora-alpha", type=int, default=32, help="LoRA alpha (default %(default)s)")
    lora.add_argument("--lora-dropout", type=float, default=0.05, help="LoRA dropout (default %(default)s)")
    lora.add_argument("--target-modules", help="comma-separated module names to adapt (default: every linear layer but the head)")
    lora.add_argument("--epochs", type=float, default=1.0, help="passes over the data (default %(default)s)")
    lora.add_argument("--max-steps", type=int, default=-1, help="stop after this many steps (overrides --epochs)")
    lora.add_argument("--lr", type=float, default=2e-4, help="learning rate (default %(default)s)")
    lora.add_argument("--batch-size", type=int, default=8, help="examples per step (default %(default)s)")
    lora.add_argument("--grad-accum", type=int, default=1, help="gradient accumulation steps (default %(default)s)")
    lora.add_argument("--max-length", type=int, default=512, help="max prompt+answer tokens; longer inputs are cut (default %(default)s)")
    lora.add_argument("--mask-slots", type=int, default=3, help="answer mask slots for masked LMs (default %(default)s)")
    lora.add_argument("--answer-tokens", type=int, default=3, help="answer length the embedder generates with this adapter (default %(default)s)")
    lora.add_argument("--save-steps", type=int, default=50, help="checkpoint every N steps (default %(default)s)")
    lora.add_argument("--seed", type=int, default=0, help="seed for data order, LoRA init and dropout (default %(default)s)")
    lora.add_argument("--resume", action="store_true", help="continue the run in --output from its last checkpoint")
    lora.add_argument("--device", help="cpu or cuda (default: cuda when present)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> None:
    from inbedder.finetune import FinetuneConfig, finetune

    config = FinetuneConfig(
        data=args.data, output=args.output, base=args.base, template=args.template, full=args.full,
        lora_r=args.lora_r, lora_alpha=args.lora_alpha, lora_dropout=args.lora_dropout,
        target_modules=[m.strip() for m in args.target_modules.split(",") if m.strip()] if args.target_modules else None,
        epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, grad_accum=args.grad_accum,
        max_length=args.max_length, eval_split=args.eval_split, seed=args.seed, mask_slots=args.mask_slots,
        answer_tokens=args.answer_tokens, save_steps=args.save_steps, max_steps=args.max_steps,
        resume=args.resume, merge=args.merge, device=args.device, input_column=args.input_column,
        instruction_column=args.instruction_column, answer_column=args.answer_column,
        extra={"command": "inbedder " + " ".join(sys.argv[1:])},
    )
    finetune(config, show_progress_bar=not args.quiet)
