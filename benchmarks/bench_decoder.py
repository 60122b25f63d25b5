"""Decoder benchmarks: ratios against a baseline measured in the same process, printed as JSON.

    python benchmarks/bench_decoder.py [--threads 2] [--dtypes float32 bfloat16] [--sizes medium paper] [--quick]
                                       [--benches forward decode floor users train] [--busy] [--smoke]

Measures (issue targets in brackets):
- same math, same size: Prefix Mamba (pure mamba2 blocks) vs transformers' Mamba2ForCausalLM
  - forward at L=1500, batch 1          [ours/theirs <= 0.6 medium, <= 0.4 paper]
  - decode step at batch 2              [<= 0.6]
- the paper-size Prefix SiMBA decode step vs its linear layers alone at batch 2   [<= 1.2 fp32, <= 1.3 bf16],
  beside what bounds it from below: one read of every layer's state, and the ops the step dispatches times the
  cost of one tiny eager op
- a tiny (d 256 x 4) training step at L=1500 vs a same-size LlamaForCausalLM (SDPA)   [<= 1.5]
- the Prefix Mamba as users build it (`users`): the default config (text prefix, sinusoidal positions) at
  d 512 x 8, d_state 128, vs transformers' Mamba2 of that size: forward at L=1500, batch 1, and `generate` of 100
  tokens at batch 2   [<= 0.5 both]
`--busy` runs one CPU-burning process beside the measurement (issue 16: the busy ratio <= 2x the quiet one).
`--smoke` runs every bench once at toy sizes (d 64 x 2, L = 32, float32) in seconds: it checks that the script still
runs and prints its JSON; none of its figures mean anything.
Random weights throughout: speed does not depend on them.
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import partial

import torch
from timing import cpu_burner, timed
from torch.utils._python_dispatch import TorchDispatchMode
from transformers import LlamaConfig, LlamaForCausalLM, Mamba2Config, Mamba2ForCausalLM

from simba_music import SimbaMusicConfig, SimbaMusicForCausalLM

SIZES = {"medium": dict(hidden_size=512, layers=8, state_size=128), "paper": dict(hidden_size=1024, layers=24,
                                                                                   state_size=512),
         "smoke": dict(hidden_size=64, layers=2, state_size=16)}
VOCAB = 1025
# --smoke: the paper-size SiMBA of the floor bench, the users' model and the training bench shrink to this.
SMOKE_SIMBA = dict(hidden_size=64, num_hidden_layers=2, state_size=16, num_attention_heads=4)


def prefix_mamba(size: dict, dtype) -> SimbaMusicForCausalLM:
    config = SimbaMusicConfig(hidden_size=size["hidden_size"], num_hidden_layers=size["layers"],
                              block_pattern=["mamba2"], state_size=size["state_size"], head_dim=64, n_groups=1,
                              chunk_size=256, final_norm=True, positional="none", vocab_size=VOCAB,
                              special_token_id=VOCAB - 1)
    return SimbaMusicForCausalLM(config).to(dtype).eval()


def transformers_mamba2(size: dict, dtype) -> Mamba2ForCausalLM:
    config = Mamba2Config(hidden_size=size["hidden_size"], num_hidden_layers=size["layers"],
                          state_size=size["state_size"], head_dim=64, num_heads=2 * size["hidden_size"] // 64,
                          n_groups=1, expand=2, chunk_size=256, vocab_size=VOCAB)
    return Mamba2ForCausalLM(config).to(dtype).eval()


def prefix_simba(dtype, **config) -> SimbaMusicForCausalLM:
    """The released model's architecture (paper size), or smaller with `config` overrides."""
    return SimbaMusicForCausalLM(SimbaMusicConfig(**config)).to(dtype).eval()


@torch.no_grad()
def prefilled(model, batch: int, context: int = 64) -> tuple[torch.Tensor, object]:
    """A random prompt of `context` tokens and our model's cache after it."""
    ids = torch.randint(0, VOCAB - 1, (batch, context))
    return ids, model(ids, use_cache=True).cache


@torch.no_grad()
def ours_decode_step(model, batch: int, repeats: int, context: int = 64) -> float:
    ids, cache = prefilled(model, batch, context)
    token = ids[:, -1:]
    return timed(lambda: model(token, cache=cache), repeats, warmup=2)


@torch.no_grad()
def theirs_decode_step(model, batch: int, repeats: int, context: int = 64) -> float:
    ids = torch.randint(0, VOCAB - 1, (batch, context))
    cache = model(ids, use_cache=True).cache
    token = ids[:, -1:]
    return timed(lambda: model(token, cache=cache, use_cache=True), repeats, warmup=2)


@torch.no_grad()
def linear_floor(model, batch: int, repeats: int) -> float:
    """Time of every Linear of one decode step, run back to back on a batch of single tokens."""
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)
               and m is not model.model.text_projection]
    inputs = [torch.randn(batch, 1, m.in_features, dtype=m.weight.dtype) for m in linears]

    def run():
        for module, x in zip(linears, inputs, strict=True):
            module(x)
    return timed(run, repeats, warmup=2)


@torch.no_grad()
def state_read(model, batch: int, repeats: int, context: int = 64) -> float:
    """Time to read every layer's SSM state once, one matrix-vector product per batch row as the step does: the
    memory the step must stream besides the weights."""
    _, cache = prefilled(model, batch, context)
    states = [state.ssm_state for state in cache.states.values() if getattr(state, "ssm_state", None) is not None]
    readouts = [torch.randn(batch, state.shape[-1], dtype=state.dtype) for state in states]

    def run():
        for state, readout in zip(states, readouts, strict=True):
            rows = state.view(batch, -1, state.shape[-1])
            for i in range(batch):
                torch.mv(rows[i], readout[i])
    return timed(run, repeats, warmup=2)


class _OpCounter(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


@torch.no_grad()
def ops_per_step(model, batch: int, context: int = 64) -> int:
    """Operators one decode step dispatches (views included: each costs a dispatch)."""
    ids, cache = prefilled(model, batch, context)
    model(ids[:, -1:], cache=cache)  # the first step sets up what later steps reuse
    with _OpCounter() as counter:
        model(ids[:, -1:], cache=cache)
    return counter.count


def dispatch_cost(repeats: int = 2000, rounds: int = 5) -> float:
    """Seconds one tiny eager op takes (a [2, 64] multiply): the price of each op the step dispatches."""
    x = torch.randn(2, 64)
    return timed(lambda: [x * 2.0 for _ in range(repeats)], rounds) / repeats


def users_prefix_mamba(dtype, size_name: str = "medium") -> SimbaMusicForCausalLM:
    """The default config (text prefix, sinusoidal positions, its default chunk size) at the medium size."""
    size = SIZES[size_name]
    config = SimbaMusicConfig(hidden_size=size["hidden_size"], num_hidden_layers=size["layers"],
                              block_pattern=["mamba2"], state_size=size["state_size"], vocab_size=VOCAB,
                              special_token_id=VOCAB - 1)
    return SimbaMusicForCausalLM(config).to(dtype).eval()


@torch.no_grad()
def users_benches(dtype, length: int, repeats: int, size_name: str = "medium", new_tokens: int = 100) -> list[dict]:
    ours, theirs = users_prefix_mamba(dtype, size_name), transformers_mamba2(SIZES[size_name], dtype)
    text = torch.randn(1, 32, ours.config.text_hidden_size, dtype=dtype)
    ids = torch.randint(0, VOCAB - 1, (1, length))
    t_ours = timed(lambda: ours(ids, encoder_hidden_states=text), repeats)
    t_theirs = timed(lambda: theirs(ids), repeats)
    start = torch.randint(0, VOCAB - 1, (2, 1))
    greedy = dict(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False)
    g_ours = timed(lambda: ours.generate(start, encoder_hidden_states=text.expand(2, -1, -1), **greedy), repeats)
    g_theirs = timed(lambda: theirs.generate(start, **greedy), repeats)
    return [{"bench": "users_prefix_mamba_forward", "dtype": str(dtype).split(".")[1], "batch": 1, "length": length,
             "text_tokens": 32, "ours_s": t_ours, "transformers_mamba2_s": t_theirs, "ratio": t_ours / t_theirs,
             "target": 0.5},
            {"bench": "users_prefix_mamba_generate", "dtype": str(dtype).split(".")[1], "batch": 2,
             "new_tokens": new_tokens, "ours_s": g_ours, "transformers_mamba2_s": g_theirs, "ratio": g_ours / g_theirs,
             "target": 0.5}]


def training_step_fn(model, ids):
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step():
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return step


BENCHES = ("forward", "decode", "floor", "users", "train")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    parser.add_argument("--sizes", nargs="+", default=["medium", "paper"], choices=list(SIZES))
    parser.add_argument("--length", type=int, default=1500)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--benches", nargs="+", default=list(BENCHES), choices=BENCHES, help="which measurements")
    parser.add_argument("--busy", action="store_true", help="run one CPU-burning process beside the measurement")
    parser.add_argument("--smoke", action="store_true",
                        help="every bench once at toy sizes, float32, L = 32: checks that it runs (seconds)")
    args = parser.parse_args()
    if args.smoke:
        args.dtypes, args.sizes, args.length = ["float32"], ["smoke"], 32
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    reps_slow, reps_fast = (1, 1) if args.smoke else (1, 5) if args.quick else (3, 20)
    smoke = dict(SMOKE_SIMBA) if args.smoke else {}
    report = {"threads": args.threads, "torch": torch.__version__, "length": args.length, "busy": args.busy,
              "smoke": args.smoke, "results": []}

    def emit(entry):
        entry["busy"] = args.busy
        report["results"].append(entry)
        print(json.dumps(entry), file=sys.stderr, flush=True)

    with cpu_burner(args.busy):
        for dtype_name in args.dtypes:
            dtype = getattr(torch, dtype_name)
            for size_name in args.sizes if {"forward", "decode"} & set(args.benches) else ():
                size = SIZES[size_name]
                ours, theirs = prefix_mamba(size, dtype), transformers_mamba2(size, dtype)
                if "forward" in args.benches:
                    ids = torch.randint(0, VOCAB - 1, (1, args.length))
                    with torch.no_grad():
                        t_ours = timed(partial(ours, ids), reps_slow)
                        t_theirs = timed(partial(theirs, ids), reps_slow)
                    emit({"bench": "forward", "size": size_name, "dtype": dtype_name, "batch": 1,
                          "length": args.length, "ours_s": t_ours, "transformers_mamba2_s": t_theirs,
                          "ratio": t_ours / t_theirs, "target": 0.6 if size_name == "medium" else 0.4})
                if "decode" in args.benches:
                    s_ours, s_theirs = ours_decode_step(ours, 2, reps_fast), theirs_decode_step(theirs, 2, reps_fast)
                    emit({"bench": "decode_step", "size": size_name, "dtype": dtype_name, "batch": 2,
                          "ours_ms": 1e3 * s_ours, "transformers_mamba2_ms": 1e3 * s_theirs,
                          "ratio": s_ours / s_theirs, "target": 0.5 if size_name == "medium" else 0.6})
                del ours, theirs
            if "users" in args.benches:
                for entry in (users_benches(dtype, args.length, reps_slow, "smoke", new_tokens=4) if args.smoke
                              else users_benches(dtype, args.length, reps_slow)):
                    emit(entry)
            if "floor" in args.benches:
                simba = prefix_simba(dtype, **smoke)
                step, floor = ours_decode_step(simba, 2, reps_fast), linear_floor(simba, 2, reps_fast)
                read, ops = state_read(simba, 2, reps_fast), ops_per_step(simba, 2)
                per_op = dispatch_cost(rounds=1) if args.smoke else dispatch_cost()
                # What the step cannot avoid besides the weights: reading the state once, and (in eager PyTorch)
                # the dispatch of every op; the target leaves (target - 1) x floor for both.
                emit({"bench": "paper_prefix_simba_decode_vs_linear_floor", "dtype": dtype_name, "batch": 2,
                      "params_m": sum(p.numel() for p in simba.parameters()) / 1e6, "step_ms": 1e3 * step,
                      "linear_floor_ms": 1e3 * floor, "ratio": step / floor,
                      "target": 1.2 if dtype_name == "float32" else 1.3,
                      "state_read_ms": 1e3 * read, "ratio_linear_and_state_read": (floor + read) / floor,
                      "ops_per_step": ops, "dispatch_us_per_op": 1e6 * per_op,
                      "ratio_linear_state_and_dispatch": (floor + read + ops * per_op) / floor})
                del simba

        if "train" in args.benches:
            tiny = dict(hidden_size=256, num_hidden_layers=4)
            state_size, train_repeats = 64, reps_slow + 2
            if args.smoke:
                tiny, state_size, train_repeats = dict(hidden_size=64, num_hidden_layers=2), 16, 1
            ours = SimbaMusicForCausalLM(SimbaMusicConfig(**tiny, state_size=state_size, vocab_size=VOCAB,
                                                          special_token_id=VOCAB - 1,
                                                          block_pattern=["mamba2", "mlp"])).train()
            llama = LlamaForCausalLM(LlamaConfig(**tiny, intermediate_size=688, num_attention_heads=4,
                                                 num_key_value_heads=4, vocab_size=VOCAB,
                                                 attn_implementation="sdpa")).train()
            ids = torch.randint(0, VOCAB - 1, (1, args.length))
            t_ours, t_llama = (timed(training_step_fn(ours, ids), train_repeats),
                               timed(training_step_fn(llama, ids), train_repeats))
            emit({"bench": "train_step_tiny", "dtype": "float32", "length": args.length,
                  "ours_params_m": sum(p.numel() for p in ours.parameters()) / 1e6,
                  "llama_params_m": sum(p.numel() for p in llama.parameters()) / 1e6,
                  "ours_s": t_ours, "llama_s": t_llama, "ratio": t_ours / t_llama, "target": 1.5})
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
