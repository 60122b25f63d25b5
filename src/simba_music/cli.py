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
    from .modeling.generation_text_to_music import MAX_GUIDANCE_SCALE

    value = float(text)
    if not math.isfinite(value) or not 0 <= value <= MAX_GUIDANCE_SCALE:
        raise argparse.ArgumentTypeError(f"--guidance must be a finite number >= 0 and <= {MAX_GUIDANCE_SCALE:g} "
                                         f"(1 disables guidance), got {text}")
    return value


def _seed(text: str) -> int:
    from .modeling.generation_text_to_music import check_seed

    try:
        return check_seed(int(text), "--seed")
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seed: must be an int in [0, 2**64), got {text!r}") from None


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


def _check_destinations(args: argparse.Namespace) -> tuple[str, str]:
    """Every file `generate` will write is checked before the model loads, so a long run never ends in an error."""
    from .io_utils import audio_format, check_writable_file

    check_writable_file(args.output, "--output")
    sound_format = audio_format(args.output, "--output")
    if args.spectrogram is not None:
        check_writable_file(args.spectrogram, "--spectrogram")
        if Path(args.spectrogram).resolve() == Path(args.output).resolve():
            raise ValueError(f"--spectrogram: {args.spectrogram!r} is also --output; give another file name")
    return sound_format


def _generate(args: argparse.Namespace) -> int:
    import soundfile

    from .io_utils import atomic_path, terminate_as_exception
    from .outputs import WavFileStreamer, write_spectrogram
    from .processing_simba_music import check_prompts

    check_prompts(args.prompt)
    sound_format, subtype = _check_destinations(args)
    model, processor = _load(args)
    rate, channels = model.config.sampling_rate, model.config.audio_channels
    inputs = processor([args.prompt])  # a prompt that tokenises to nothing is refused here, before generating

    # The audio is streamed to a temporary file while generating (flat memory at any length) and renamed over
    # --output only when generation succeeded; SIGTERM, like Ctrl-C, removes the temporary file.
    with terminate_as_exception(), atomic_path(args.output, suffix=f".{sound_format.lower()}") as temporary:
        with soundfile.SoundFile(str(temporary), "w", samplerate=rate, channels=channels, subtype=subtype,
                                 format=sound_format) as sound_file:
            writer = WavFileStreamer(sound_file)
            model.generate(**inputs, duration=args.duration, seed=args.seed, guidance_scale=args.guidance,
                           streamer=writer, return_audio=False, progress_bar=not args.quiet)
    # The spectrogram comes after the audio is in place: a failure there never costs the finished audio.
    if args.spectrogram is not None:
        audio, _ = soundfile.read(args.output, dtype="float32")
        write_spectrogram(args.spectrogram, audio, rate, title=args.prompt)
    print(f"wrote {args.output}: {writer.frames / rate:.2f} s at {rate} Hz"
          + (f", spectrogram {args.spectrogram}" if args.spectrogram else ""), file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simba-music", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    generate = commands.add_parser("generate", help="text -> WAV")
    generate.add_argument("prompt")
    generate.add_argument("--output", "-o", default="out.wav", help="audio file: .wav, .flac or .ogg (by extension)")
    generate.add_argument("--duration", type=_positive_duration, default=10.0, help="seconds")
    generate.add_argument("--model", default=None,
                          help="saved text-to-music model folder or Hub id (default: the shipped demo model, trained "
                               f"on the offline chorale and folk corpus; '{RANDOM_MODEL}': a tiny untrained model)")
    generate.add_argument("--seed", type=_seed, default=0, help="an int in [0, 2**64)")
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
    except (FloatingPointError, FileNotFoundError) as error:  # broken weights, a missing input file
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
