"""How far can a clustering that follows the model's own answer go on the drug reviews' sentiment?

Issue #11's independent target needs a sentiment V near 80. This prints how often the model's
first answer token agrees with the rating (" positive" against " negative" log-probability), the
V of clustering by that choice alone, the best agreement any threshold on the log-odds reaches
(chosen with the labels: an upper bound, not a method), and the commonest first answer tokens.
A V-measure of 80 on two balanced-ish classes needs about 97 % agreement.

    python bench/answer_ceiling.py [--adapter runs/NAME]
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.metrics import v_measure_score

from inbedder import InBedder
from inbedder.clustering.answer_space import ANSWER_METHOD, answer_log_probs
from inbedder.evaluation.independent import drug_reviews
from inbedder.models.sources import run_options


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adapter", help="a LoRA adapter or --full model folder (default: the shipped adapter)")
    args = parser.parse_args()
    data = drug_reviews()
    labeling = next(labeling for labeling in data.labelings if labeling.name == "sentiment")
    model = InBedder(**run_options(args.adapter))
    states = model.encode_questions(data.texts, [labeling.instruction], method=ANSWER_METHOD, show_progress_bar=False,
                                    normalize_embeddings=False, answers=False)[labeling.instruction].embeddings
    log_probs = answer_log_probs(states, model.loaded.model.get_output_embeddings())
    tokenizer = model.loaded.tokenizer
    positive, negative = (tokenizer.encode(f" {word}", add_special_tokens=False)[0] for word in ("positive", "negative"))
    gold = np.asarray(labeling.labels) == "positive"
    odds = log_probs[:, positive] - log_probs[:, negative]
    chosen = odds > 0
    best = max(((odds > t) == gold).mean() for t in np.quantile(odds, np.linspace(0.01, 0.99, 99)))
    first = [tokenizer.decode([token]).strip() for token in log_probs.argmax(axis=1)]
    words, counts = np.unique(first, return_counts=True)
    print(f"{len(gold)} drug reviews, {labeling.instruction!r}")
    print(f"agreement of ' positive' vs ' negative' with the rating: {100 * (chosen == gold).mean():.1f} %; "
          f"V of clustering by it: {100 * v_measure_score(gold, chosen):.1f}")
    print(f"best threshold on the log-odds (chosen with the labels): {100 * best:.1f} % agreement")
    print("first answer tokens:", ", ".join(f"{w} {c}" for c, w in sorted(zip(counts, words), reverse=True)[:6]))


if __name__ == "__main__":
    main()
