"""`simba-music` command line."""

from __future__ import annotations

import argparse
import sys

MAX_DURATION_S = 600.0


def _positive_duration(text: str) -> float:
    value = float(text)
    if not 0 < value <= MAX_DURATION_S:
        raise argparse.ArgumentTypeError(f"--duration must be in (0, {MAX_DURATION_S:g}] seconds, got {value:g}")
    return value


def _generate(args: argparse.Namespace) -> int:
    import torch
    from tqdm.auto import tqdm
    from transformers.generation.streamers import BaseStreamer

    from .io_utils import write_wav
    from .random_demo import tiny_random_codec, tiny_random_decoder

    if not args.prompt.strip():
        raise SystemExit("error: prompt must be a non-empty string")
    if args.model is not None:
        raise SystemExit("error: --model needs the text-to-music model, which is not built yet; "
                         "omit it to run the tiny random demo")
    print("NOTE: no trained model is bundled yet: this runs a tiny RANDOMLY INITIALISED decoder and codec, so the "
          "output is structured noise and the prompt has no learned effect.", file=sys.stderr)
    torch.manual_seed(args.seed)
    codec, decoder = tiny_random_codec(args.seed), tiny_random_decoder(args.seed)
    frames = max(1, round(args.duration * codec.config.frame_rate))
    # Stand-in text features: a deterministic function of the prompt, since the random model has no text encoder.
    generator = torch.Generator().manual_seed(sum(map(ord, args.prompt)))
    text = torch.randn(1, 8, decoder.config.text_hidden_size, generator=generator)

    class Progress(BaseStreamer):
        def __init__(self):
            self.bar = tqdm(total=frames, unit="frame", desc="generating", disable=args.quiet)

        def put(self, value):
            self.bar.update(1 if value.shape[-1] == 1 or value.dim() == 1 else 0)

        def end(self):
            self.bar.close()

    start = torch.full((1, 1), decoder.config.special_token_id)
    with torch.no_grad():
        codes = decoder.generate(start, encoder_hidden_states=text, max_new_tokens=frames, do_sample=True,
                                 top_k=250, temperature=1.2, streamer=Progress())[:, 1:]
        audio = codec.decode(codes[None, :, None, :], [None])[0][0, 0]
    write_wav(args.output, audio.numpy(), codec.config.sampling_rate)
    print(f"wrote {args.output}: {audio.shape[-1] / codec.config.sampling_rate:.2f} s at "
          f"{codec.config.sampling_rate} Hz", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simba-music", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    generate = commands.add_parser("generate", help="text -> WAV")
    generate.add_argument("prompt")
    generate.add_argument("--output", "-o", default="out.wav")
    generate.add_argument("--duration", type=_positive_duration, default=10.0, help="seconds")
    generate.add_argument("--model", default=None)
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--quiet", action="store_true", help="no progress bar")
    generate.set_defaults(func=_generate)
    from .training.cli import add_subcommands as add_training_subcommands

    add_training_subcommands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
