"""Where the key is lost between caption and codes: three measures, each printing JSON.

    python lab/recipes/pitch_demo/key_diagnostics.py oracle DATA/tokens
    python lab/recipes/pitch_demo/key_diagnostics.py probe MODEL DATA/corpus/manifest.jsonl
    python lab/recipes/pitch_demo/key_diagnostics.py positions MODEL DATA/tokens

- `oracle`: how much knowing the key can help at all. Count models of single codes, fitted on the train split's
  frames and scored on the first 25 frames of validation clips: p(code | instrument) against
  p(code | instrument, key) (each backed off to its parent with weight `--alpha`). No context, no training.
- `probe`: where the key is lost on its way from the caption. A logistic regression fitted on 3/4 of 2,000 train
  captions (one in every n, so that no two come from one render) and scored on the rest, for key, instrument and
  tempo (20-BPM bins), on: the text encoder's mean-pooled caption states; the same after the decoder's text
  projection and norm; the decoder's state at the start token (after the caption prefix), per block. Chance: 1/24
  for keys; the embeddings row (the same start token for every caption) scores the majority class.
- `positions`: whether the decoder uses the key. The rise of each code's cross-entropy when only the caption's key
  (or instrument) is swapped (`simba_music_lab.evaluation.caption_swaps.swapped_caption`), by frame, over clips that
  start a piece.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

CODES_SCORED = 25  # frames from each validation clip's start: before the music reveals its key


def backed_off(table: dict, parent, alpha: float) -> dict:
    """{group: counts [V]} -> {group: probabilities}, each smoothed towards `parent(group)` with weight `alpha`."""
    return {group: (counts + alpha * parent(group)) / (counts.sum() + alpha) for group, counts in table.items()}


def code_counts(codes: list[np.ndarray], groups: list, vocabulary: int) -> dict:
    table = {}
    for row, group in zip(codes, groups, strict=True):
        np.add.at(table.setdefault(group, np.zeros(vocabulary)), row, 1)
    return table


def oracle(train: dict, validation: dict, vocabulary: int, alpha: float = 200.0) -> dict:
    """Held-out cross-entropy (nats per code) of the first frames under count models; `train`/`validation`: columns
    codes (1-D arrays), instrument, key."""
    everything = np.bincount(np.concatenate(train["codes"]), minlength=vocabulary)
    unigram = (everything + 1) / (everything.sum() + vocabulary)
    by_instrument = backed_off(code_counts(train["codes"], train["instrument"], vocabulary), lambda g: unigram, alpha)
    by_both = backed_off(code_counts(train["codes"], list(zip(train["instrument"], train["key"], strict=True)),
                                     vocabulary), lambda g: by_instrument[g[0]], alpha)

    def score(probabilities_of) -> float:
        total = count = 0
        for row, instrument, key in zip(validation["codes"], validation["instrument"], validation["key"], strict=True):
            first = row[:CODES_SCORED]
            total -= np.log(probabilities_of(instrument, key)[first]).sum()
            count += len(first)
        return float(total / count)

    result = {"unigram": score(lambda i, k: unigram),
              "instrument": score(lambda i, k: by_instrument.get(i, unigram)),
              "instrument_and_key": score(lambda i, k: by_both.get((i, k), by_instrument.get(i, unigram)))}
    result["gain_of_the_key"] = result["instrument"] - result["instrument_and_key"]
    return {name: round(value, 4) for name, value in result.items()}


def _columns(split) -> dict:
    return {"codes": [np.asarray(row, dtype=np.int64).reshape(-1) for row in split["codes"]],
            "instrument": list(split["instrument"]), "key": list(split["key"])}


def run_oracle(dataset: str, alpha: float) -> dict:
    from datasets import load_from_disk

    splits = load_from_disk(dataset)
    train, validation = _columns(splits["train"]), _columns(splits["validation"])
    vocabulary = int(max(row.max() for row in train["codes"] + validation["codes"])) + 1
    return oracle(train, validation, vocabulary, alpha)


def probe_accuracy(features: np.ndarray, labels: list, fitted: int) -> float:
    """Held-out accuracy of a logistic regression fitted on the first `fitted` rows (standardized features)."""
    from sklearn.linear_model import LogisticRegression

    labels = np.asarray(labels)
    x = (features - features[:fitted].mean(0)) / (features[:fitted].std(0) + 1e-6)
    probe = LogisticRegression(max_iter=2000).fit(x[:fitted], labels[:fitted])
    return round(float((probe.predict(x[fitted:]) == labels[fitted:]).mean()), 3)


@torch.no_grad()
def run_probe(model_dir: str, manifest: str, captions: int = 2000) -> dict:
    from simba_music_lab.evaluation.harness import load_model

    model, processor = load_model(model_dir, "cpu")
    decoder = model.decoder.model
    with open(manifest) as handle:
        rows = [row for row in map(json.loads, handle) if row["split"] == "train"]
    rows = rows[::max(1, len(rows) // captions)][:captions]
    start = torch.full((1, 1), model.config.decoder.special_token_id)
    pooled, projected, states = [], [], []
    for first in range(0, len(rows), 50):
        text = processor([row["caption"] for row in rows[first:first + 50]])
        ids, mask = model._pad_captions(text["input_ids"], text.get("attention_mask"))
        encoded = model.text_encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        weights = mask[..., None].to(encoded.dtype)
        pooled.append((encoded * weights).sum(1) / weights.sum(1))
        projected.append(decoder.text_norm(decoder.text_projection(pooled[-1])))
        out = model(input_ids=ids, attention_mask=mask, decoder_input_ids=start.expand(len(ids), 1),
                    output_hidden_states=True)
        states.append(torch.stack([layer[:, -1] for layer in out.hidden_states], 1))
    pooled, projected, states = torch.cat(pooled).numpy(), torch.cat(projected).numpy(), torch.cat(states).numpy()
    fitted = len(rows) * 3 // 4
    labels = {"key": [row["key"] for row in rows], "instrument": [row["instrument"] for row in rows],
              "tempo_20_bpm": [row["tempo_bpm"] // 20 for row in rows]}
    result = {"captions": len(rows)}
    for name, values in labels.items():
        result[name] = {"caption_pooled": probe_accuracy(pooled, values, fitted),
                        "projected": probe_accuracy(projected, values, fitted),
                        "start_token_by_block": [probe_accuracy(states[:, layer], values, fitted)
                                                 for layer in range(states.shape[1])]}
    return result


@torch.no_grad()
def run_positions(model_dir: str, dataset: str, clips: int = 64) -> dict:
    from simba_music_lab.evaluation.caption_swaps import swapped_caption
    from simba_music_lab.evaluation.harness import load_model
    from simba_music_lab.evaluation.perplexity import load_split, scored_codes

    model, processor = load_model(model_dir, "cpu")
    _, split = load_split(dataset, "validation")
    rows = [row for row in (split[i] for i in range(len(split))) if float(row["start_seconds"]) == 0.0][:clips]
    result = {}
    for attribute in ("key", "instrument"):
        total, count = torch.zeros(2 * CODES_SCORED, dtype=torch.float64), 0
        for first in range(0, len(rows), 8):
            batch = rows[first:first + 8]
            codes = [torch.as_tensor(row["codes"]).reshape(-1)[:2 * CODES_SCORED].tolist() for row in batch]
            true, _ = scored_codes(model, processor, [row["caption"] for row in batch], codes)
            swapped = [swapped_caption(row["caption"], row, attribute) for row in batch]
            kept = [i for i, caption in enumerate(swapped) if caption is not None]
            scores, _ = scored_codes(model, processor, [swapped[i] for i in kept], [codes[i] for i in kept])
            total += (scores[:, 0] - true[kept, 0]).sum(0)
            count += len(kept)
        rise = (total / max(count, 1)).tolist()
        result[attribute] = {"clips": count, "frames_0_4": round(sum(rise[:5]) / 5, 4),
                             "frames_5_24": round(sum(rise[5:25]) / 20, 4),
                             "frames_25_49": round(sum(rise[25:]) / 25, 4)}
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("oracle")
    command.add_argument("dataset")
    command.add_argument("--alpha", type=float, default=200.0)
    command = commands.add_parser("probe")
    command.add_argument("model")
    command.add_argument("manifest")
    command = commands.add_parser("positions")
    command.add_argument("model")
    command.add_argument("dataset")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.command == "oracle":
        result = run_oracle(args.dataset, args.alpha)
    elif args.command == "probe":
        result = run_probe(args.model, args.manifest)
    else:
        result = run_positions(args.model, args.dataset)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
