"""`simba-music` command line."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from .configuration_text_to_music import DEFAULT_MAX_DURATION_S

MAX_DURATION_S = DEFAULT_MAX_DURATION_S
RANDOM_MODEL = "random"  # --model random: the tiny untrained smoke-test model


def _positive_duration(text: str) -> float:
    value = float(text)
    if not 0 < value <= MAX_DURATION_S:
        raise argparse.ArgumentTypeError(f"--duration must be in (0, {MAX_DURATION_S:g}] seconds, got {value:g}")
    return value


def _guidance(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"--guidance must be a finite number >= 0 (1 disables guidance), got {text}")
    return value


def _check_output_path(option: str, path: str) -> None:
    # Checked before generating, so that a long run never ends in an unwritable path.
    target = Path(path)
    if target.is_dir():
        raise ValueError(f"{option}: {path!r} is a directory; give a file name")
    if not (target.parent if str(target.parent) else Path(".")).is_dir():
        raise ValueError(f"{option}: directory of {path!r} does not exist")


def _load(args: argparse.Namespace):
    if args.model is None:
        from .shipped import demo_model_path

        args.model = demo_model_path()
    if args.model == RANDOM_MODEL or args.model is None:
        from .demo_text_to_music import random_demo_model

        print("NOTE: this runs a tiny RANDOMLY INITIALISED text encoder, decoder and codec, so the output is "
              "structured noise and the prompt has no learned effect.", file=sys.stderr)
        return random_demo_model(args.seed)
    from transformers import AutoModelForTextToWaveform, AutoProcessor

    try:
        model = AutoModelForTextToWaveform.from_pretrained(args.model).eval()
    except OSError as error:
        raise ValueError(f"--model: cannot load a text-to-music model from {args.model!r}: {error}") from error
    try:
        processor = AutoProcessor.from_pretrained(args.model)
    except (OSError, ValueError) as error:
        raise ValueError(f"--model: {args.model!r} has no SimbaMusicProcessor (tokenizer files): {error}") from error
    return model, processor


def _generate(args: argparse.Namespace) -> int:
    import soundfile

    from .io_utils import atomic_path
    from .outputs import WavFileStreamer, write_spectrogram
    from .processing_simba_music import check_prompts

    check_prompts(args.prompt)
    _check_output_path("--output", args.output)
    if args.spectrogram is not None:
        _check_output_path("--spectrogram", args.spectrogram)
    model, processor = _load(args)
    rate, channels = model.config.sampling_rate, model.config.audio_channels

    # The WAV is streamed to a temporary file while generating (flat memory at any length) and renamed over
    # --output only when generation succeeded.
    with atomic_path(args.output, suffix=".wav") as temporary:
        with soundfile.SoundFile(str(temporary), "w", samplerate=rate, channels=channels, subtype="PCM_16",
                                 format="WAV") as sound_file:
            writer = WavFileStreamer(sound_file)
            model.generate(**processor([args.prompt]), duration=args.duration, seed=args.seed,
                           guidance_scale=args.guidance, streamer=writer, return_audio=False,
                           progress_bar=not args.quiet)
        if args.spectrogram is not None:
            audio, _ = soundfile.read(str(temporary), dtype="float32")
            write_spectrogram(args.spectrogram, audio, rate, title=args.prompt)
    print(f"wrote {args.output}: {writer.frames / rate:.2f} s at {rate} Hz"
          + (f", spectrogram {args.spectrogram}" if args.spectrogram else ""), file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simba-music", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    generate = commands.add_parser("generate", help="text -> WAV")
    generate.add_argument("prompt")
    generate.add_argument("--output", "-o", default="out.wav")
    generate.add_argument("--duration", type=_positive_duration, default=10.0, help="seconds")
    generate.add_argument("--model", default=None,
                          help="saved text-to-music model folder or Hub id (default: the shipped demo model, trained "
                               f"on the offline chorale and folk corpus; '{RANDOM_MODEL}': a tiny untrained model)")
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--guidance", type=_guidance, default=None,
                          help="classifier-free guidance scale (default: the model's generation config, 3)")
    generate.add_argument("--spectrogram", default=None, help="also write a spectrogram PNG here")
    generate.add_argument("--quiet", action="store_true", help="no progress bar")
    generate.set_defaults(func=_generate)
    from .codec.cli import add_subcommands as add_codec_subcommands
    from .corpus.cli import add_subcommands as add_corpus_subcommands
    from .evaluation.cli import add_subcommands as add_evaluation_subcommands
    from .training.cli import add_subcommands as add_training_subcommands

    add_training_subcommands(commands)
    add_corpus_subcommands(commands)
    add_codec_subcommands(commands)
    add_evaluation_subcommands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError) as error:
        parser.error(str(error))  # exits with status 2 and the message; nothing was written


if __name__ == "__main__":
    sys.exit(main())
