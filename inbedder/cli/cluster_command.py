"""What ``inbedder cluster`` was asked, as options: read from the flags once, written back for the run record.

The handler turns the parsed flags into a :class:`ClusterCommand` at its top; everything below
it takes these options, never the argparse namespace. :meth:`ClusterCommand.flags` gives them
back under their flag names for the run record (``<output>.run.json``), in the order the
command declares them, so a record reads like the command that made it.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from typing import Any

from inbedder.cli.analyst import AnalystOptions
from inbedder.cli.options import ClusterOptions, InputOptions, ModelOptions, OutputOptions, RayOptions


@dataclass(frozen=True)
class ClusterCommand:
    """Every option of ``inbedder cluster`` but its questions, grouped by the stage that reads them.

    ``given_state_weight`` and ``given_answer_prefix`` are those two flags as typed (None: not
    given; ``none``: no prefix), which the options normalise; the run record shows them as typed.
    """

    source: InputOptions
    model: ModelOptions
    cluster: ClusterOptions
    analyst: AnalystOptions
    outputs: OutputOptions
    ray: RayOptions
    engine: str = "local"
    quiet: bool = False
    given_state_weight: float | None = None
    given_answer_prefix: str = "auto"

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ClusterCommand:
        """The options of the parsed flags; the checks of each ``from_args`` run in the order of the fields."""
        return cls(
            source=InputOptions.from_args(args), model=ModelOptions.from_args(args),
            cluster=ClusterOptions.from_args(args), analyst=AnalystOptions.from_args(args),
            outputs=OutputOptions.from_args(args), ray=RayOptions.from_args(args),
            engine=args.engine, quiet=args.quiet, given_state_weight=args.state_weight,
            given_answer_prefix=args.answer_prefix,
        )

    def flags(self, *, instruction: str, output: str | None) -> dict[str, Any]:
        """The run record's ``options``: each flag's value as typed; ``k`` is the k used (6 or the seeds' number
        when not given)."""
        source, cluster, outputs = self.source, self.cluster, self.outputs
        return {
            "command": "cluster", "input": source.path, "instruction": instruction, "text_column": source.text_column,
            "id_column": source.id_column, "encoding": source.encoding, "quiet": self.quiet, "k": cluster.n_clusters,
            "label_column": source.label_column, "output": output, "embeddings": outputs.embeddings,
            "raw_csv": outputs.raw_csv, "top_n": cluster.top_n, "no_center": not cluster.center,
            "no_standardize": not cluster.standardize, "answer_space": cluster.answer_space, "levels": cluster.levels,
            "multi": cluster.multi,
            "state_weight": self.given_state_weight, **asdict(self.analyst), **self._model_flags(),
            "engine": self.engine, **asdict(self.ray),
        }

    def _model_flags(self) -> dict[str, Any]:
        """The model group's flags, in the order :func:`~inbedder.cli.options.add_model_arguments` declares them."""
        model = self.model
        return {
            "model": model.model, "dtype": model.dtype, "adapter": model.adapter, "method": model.method,
            "template": model.template, "max_length": model.max_length, "max_new_tokens": model.max_new_tokens,
            "layer": model.layer, "answer_prefix": self.given_answer_prefix, "no_filter": not model.filter_answer_words,
            "samples": model.samples, "temperature": model.temperature, "sentence_encoder": model.sentence_encoder,
            "batch_size": model.batch_size, "device": model.device, "seed": model.seed,
            "no_cache": model.cache is False, "compile": model.compile,
        }
