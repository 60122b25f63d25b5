"""Training throughput: Prefix SiMBA against a Cross Transformer (variant d) of about the same size, one process.

    python benchmarks/bench_training.py [--threads 2] [--sizes tiny paper] [--length 1500]

Prints tokens/s of a full AdamW training step (forward, backward, update) at batch 1 and the ratio ours/theirs.
The paper's claim is that the SSM is the more training-efficient of the two.
"""

from __future__ import annotations

import argparse
import json

import torch

from simba_music import SimbaMusicConfig, SimbaMusicForCausalLM
from timing import timed

SIZES = {"tiny": dict(hidden_size=256, num_hidden_layers=4, state_size=64),
         "paper": dict(hidden_size=1024, num_hidden_layers=24, state_size=512)}


def variants(size: dict):
    common = dict(hidden_size=size["hidden_size"], num_hidden_layers=size["num_hidden_layers"], text_hidden_size=768,
                  num_attention_heads=max(4, size["hidden_size"] // 64))
    simba = SimbaMusicConfig(**common, state_size=size["state_size"], block_pattern=["mamba2", "mlp"])
    # With the paper's 2x MLP in both, the two are within 5% of each other at the paper size (281M vs 293M).
    transformer = SimbaMusicConfig(**common, block_pattern=["attention", "cross_attention", "mlp"],
                                   conditioning="cross_attention")
    return {"prefix_simba": simba, "cross_transformer": transformer}


def step_time(config, length: int, repeats: int) -> float:
    model = SimbaMusicForCausalLM(config).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    ids = torch.randint(0, config.vocab_size - 1, (1, length))
    text = torch.randn(1, 32, config.text_hidden_size)

    def step():
        model(ids, encoder_hidden_states=text, labels=ids).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return timed(step, repeats), sum(p.numel() for p in model.parameters()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sizes", nargs="+", default=["tiny", "paper"], choices=list(SIZES))
    parser.add_argument("--length", type=int, default=1500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    results = []
    for size in args.sizes:
        entry = {"size": size, "length": args.length, "threads": args.threads}
        for name, config in variants(SIZES[size]).items():
            seconds, params = step_time(config, args.length, args.repeats)
            entry[f"{name}_params_m"] = round(params, 2)
            entry[f"{name}_tokens_per_s"] = args.length / seconds
        entry["ratio_simba_over_transformer"] = entry["prefix_simba_tokens_per_s"] / entry["cross_transformer_tokens_per_s"]
        results.append(entry)
        print(json.dumps(entry), flush=True)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
