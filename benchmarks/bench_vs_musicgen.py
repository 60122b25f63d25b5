"""Decode step at the paper size against transformers' MusicGen-small decoder, in one process, printed as JSON.

    python benchmarks/bench_vs_musicgen.py [--threads 2] [--dtypes float32 bfloat16] [--contexts 64 1500 6000] [--smoke]

Ours: Prefix SiMBA, d 1024 x 24, d_state 512 (the released model). Theirs: MusicgenForCausalLM, d 1024 x 24, 16 heads,
ffn 4096, 4 codebooks, with cross-attention to a 12-token caption (its keys/values cached, as in generation). Batch 2:
the conditional and unconditional rows of classifier-free guidance.

The context is set up without a prefill, since step time does not depend on the cached values: MusicGen's self-attention
cache is filled with random keys/values of the context length; our cache holds the constant-size SSM state, and its
position counter is moved to the context length (which only changes the sinusoidal position). The two models are
timed alternately, round by round, and the ratio is the median of the per-round ratios, so that load from other
processes on a shared machine hits both alike. Issue targets, fp32:
ours <= 0.75x MusicGen at 1500, <= 0.4x at 6000, and ours flat (<= 1.05x) from 64 to 6000.
`--smoke`: both models at d 64 x 1, float32, contexts 8 and 16, one round, in seconds: it checks that the script still
runs and prints its JSON; none of its figures mean anything.
"""

from __future__ import annotations

import argparse
import inspect
import json
import statistics
import sys
import time

import torch
from bench_decoder import SMOKE_SIMBA, prefix_simba
from transformers import MusicgenDecoderConfig, MusicgenForCausalLM

BATCH, TEXT_TOKENS = 2, 12
# transformers renamed `past_key_values` to `cache` (5.25; the old name goes in 5.40): use whichever this one takes.
CACHE = "cache" if "cache" in inspect.signature(MusicgenForCausalLM.forward).parameters else "past_key_values"


SMOKE_MUSICGEN = dict(hidden_size=64, num_attention_heads=4, ffn_dim=128)


def musicgen_small(dtype, layers: int, **size) -> MusicgenForCausalLM:
    size = dict(hidden_size=1024, num_attention_heads=16, ffn_dim=4096) | size
    config = MusicgenDecoderConfig(**size, num_hidden_layers=layers, num_codebooks=4, vocab_size=2048,
                                   attn_implementation="sdpa")
    return MusicgenForCausalLM(config).to(dtype).eval()


@torch.no_grad()
def musicgen_step(model, context: int):
    config = model.config
    codebooks = config.num_codebooks
    text = torch.randn(BATCH, TEXT_TOKENS, config.hidden_size, dtype=model.dtype)
    first = torch.randint(0, config.vocab_size, (BATCH * codebooks, 1))
    cache = model(first, encoder_hidden_states=text, use_cache=True)[CACHE]  # fills the cross-attention KV
    head_dim = config.hidden_size // config.num_attention_heads
    for layer in cache.self_attention_cache.layers:
        shape = (BATCH, config.num_attention_heads, context, head_dim)
        layer.keys, layer.values = torch.randn(shape, dtype=model.dtype), torch.randn(shape, dtype=model.dtype)
    token = torch.randint(0, config.vocab_size, (BATCH * codebooks, 1))

    def step():
        model(token, encoder_hidden_states=text, use_cache=True, cache_position=torch.tensor([context]),
              **{CACHE: cache})
        for layer in cache.self_attention_cache.layers:  # drop the appended position: every step sees `context`
            layer.keys, layer.values = layer.keys[:, :, :context], layer.values[:, :, :context]
    return step


@torch.no_grad()
def simba_step(model, context: int):
    config = model.config
    text = torch.randn(BATCH, 60, config.text_hidden_size, dtype=model.dtype)  # the original pads captions to 60
    token = torch.full((BATCH, 1), config.special_token_id)
    cache = model(token, encoder_hidden_states=text, use_cache=True).cache
    prefix = cache.seq_length - token.shape[1]  # the cache counts the text prefix's positions too
    cache.seq_length = prefix + context

    def step():
        model(token, cache=cache)
        cache.seq_length = prefix + context
    return step


@torch.no_grad()
def interleaved(ours, theirs, repeats: int, warmup: int = 2) -> dict:
    for _ in range(warmup):
        ours(), theirs()
    rounds = []
    for _ in range(repeats):
        times = []
        for step in (ours, theirs):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        rounds.append(times)
    return {"ours_ms": 1e3 * statistics.median(r[0] for r in rounds),
            "musicgen_ms": 1e3 * statistics.median(r[1] for r in rounds),
            "ratio": statistics.median(r[0] / r[1] for r in rounds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    parser.add_argument("--contexts", nargs="+", type=int, default=[64, 1500, 6000])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--layers", type=int, default=24, help="both models (24 = paper / MusicGen-small)")
    parser.add_argument("--smoke", action="store_true", help="toy sizes, one round: checks that it runs (seconds)")
    args = parser.parse_args()
    ours_size, theirs_size, warmup = dict(num_hidden_layers=args.layers), {}, 2
    if args.smoke:
        args.dtypes, args.contexts, args.repeats, args.layers, warmup = ["float32"], [8, 16], 1, 1, 1
        ours_size, theirs_size = SMOKE_SIMBA | dict(num_hidden_layers=1), SMOKE_MUSICGEN
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    report = {"threads": args.threads, "torch": torch.__version__, "batch": BATCH, "smoke": args.smoke,
              "results": []}
    for dtype_name in args.dtypes:
        dtype = getattr(torch, dtype_name)
        ours = prefix_simba(dtype, **ours_size)
        theirs = musicgen_small(dtype, args.layers, **theirs_size)
        steps = {}
        for context in args.contexts:
            timing = interleaved(simba_step(ours, context), musicgen_step(theirs, context), args.repeats, warmup)
            steps[context] = timing["ours_ms"]
            entry = {"dtype": dtype_name, "context": context, **timing}
            report["results"].append(entry)
            print(json.dumps(entry), file=sys.stderr, flush=True)
        report["results"].append({"dtype": dtype_name, "ours_flatness": max(steps.values()) / min(steps.values()),
                                  "target": 1.05})
        del ours, theirs
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
