"""`simba-music` command line."""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from .modeling.configuration_simba_music import DEFAULT_MAX_DURATION_S

MAX_DURATION_S = DEFAULT_MAX_DURATION_S
RANDOM_MODEL = "random"  # --model random: the tiny untrained smoke-test model


def _positive_duration(text: str) -> float:
    value = float(text)
    if not 0 < value <= MAX_DURATION_S:
        raise argparse.ArgumentTypeError(f"--duration must be in (0, {MAX_DURATION_S:g}] seconds, got {value:g}")
    return value


def _guidance(text: str) -> float:
    from .modeling.sampling import MAX_GUIDANCE_SCALE

    value = float(text)
    if not math.isfinite(value) or not 0 <= value <= MAX_GUIDANCE_SCALE:
        raise argparse.ArgumentTypeError(f"--guidance must be a finite number >= 0 and <= {MAX_GUIDANCE_SCALE:g} "
                                         f"(1 disables guidance), got {text}")
    return value


def _seed(text: str) -> int:
    from .modeling.sampling import check_seed

    try:
        return check_seed(int(text), "--seed")
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seed: must be an int in [0, 2**64), got {text!r}") from None


def _load(args: argparse.Namespace):
    from .shipped import resolve_model

    args.model = resolve_model(args.model)
    if args.model == RANDOM_MODEL or args.model is None:
        from .testing_utils import random_model

        print("NOTE: this runs a tiny RANDOMLY INITIALISED text encoder, decoder and codec, so the output is "
              "structured noise and the prompt has no learned effect.", file=sys.stderr)
        return random_model(args.seed)
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

    from .audio.files import WavFileStreamer, write_spectrogram
    from .io_utils import atomic_path, terminate_as_exception
    from .modeling.processing import check_prompts

    check_prompts(args.prompt)
    sound_format, subtype = _check_destinations(args)
    model, processor = _load(args)
    rate, channels = model.config.sampling_rate, model.config.audio_channels
    inputs = processor([args.prompt])  # a prompt that tokenises to nothing is refused here, before generating

    # The audio is streamed to a temporary file while generating (flat memory at any length) and renamed over
    # --output only when generation succeeded; SIGTERM, like Ctrl-C, removes the temporary file.
    with (terminate_as_exception(),
          atomic_path(args.output, suffix=f".{sound_format.lower()}") as temporary,
          soundfile.SoundFile(str(temporary), "w", samplerate=rate, channels=channels, subtype=subtype,
                              format=sound_format) as sound_file):
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


def physical_cores() -> int:
    """Physical CPU cores (hyper-threads not counted): torch's own default thread count."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cores, physical = set(), None
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() == "physical id":
                    physical = value.strip()
                elif key.strip() == "core id":
                    cores.add((physical, value.strip()))
        if cores:
            return len(cores)
    except OSError:
        pass
    return os.cpu_count() or 1


def _threads(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"--threads must be >= 1, got {value}")
    return value


def _apply_runtime_options(args: argparse.Namespace) -> None:
    # --quiet silences every bar, the loaders' too (transformers' weight loading, the Hub's downloads).
    if getattr(args, "quiet", False):
        from huggingface_hub.utils import disable_progress_bars
        from transformers.utils import logging as transformers_logging

        disable_progress_bars()
        transformers_logging.disable_progress_bar()
        transformers_logging.set_verbosity_error()
    if getattr(args, "threads", None) is not None:
        import torch

        torch.set_num_threads(args.threads)


def _add_runtime_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=_threads, default=physical_cores(),
                        help="CPU threads for torch (default: this machine's physical cores). On a busy machine "
                             "fewer threads can be faster")
    parser.add_argument("--quiet", action="store_true", help="no progress bars at all (loading included)")


def _demo(args: argparse.Namespace) -> int:
    try:
        from .app.ui import launch
    except ImportError as error:
        raise ValueError(f"demo: needs gradio ({error}); pip install 'simba-music[demo]'") from error
    launch(args.model, host=args.host, port=args.port, share=args.share)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .generation_defaults import saved_generation_defaults
    from .shipped import DEMO_MODEL

    saved = saved_generation_defaults()
    from_config = "default: the model's saved generation config; the shipped demo's is {}"
    parser = argparse.ArgumentParser(prog="simba-music", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    generate = commands.add_parser("generate", help="text -> audio file",
                                   formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    generate.add_argument("prompt", help="caption of the music, e.g. an instrument, a key, a tempo, a metre, a style")
    generate.add_argument("--output", "-o", default="out.wav", help="audio file: .wav, .flac or .ogg (by extension)")
    generate.add_argument("--duration", type=_positive_duration, default=None,
                          help=f"seconds, at most {MAX_DURATION_S:g} ({from_config.format(saved['duration'])})")
    generate.add_argument("--model", default=None,
                          help=f"saved text-to-music model folder, Hub id or '{DEMO_MODEL}' (default: the shipped "
                               "demo model, trained on the offline chorale and folk corpus; "
                               f"'{RANDOM_MODEL}': a tiny untrained model)")
    generate.add_argument("--seed", type=_seed, default=0,
                          help="random seed, an int in [0, 2**64); the same seed gives the same audio")
    generate.add_argument("--guidance", type=_guidance, default=None,
                          help="classifier-free guidance scale, 1 disables it "
                               f"({from_config.format(saved['guidance_scale'])})")
    generate.add_argument("--spectrogram", default=None, help="also write a spectrogram PNG here")
    _add_runtime_options(generate)
    generate.set_defaults(func=_generate)
    demo = commands.add_parser("demo", help="serve the demo web page (gradio; needs the [demo] extra)",
                               formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    demo.add_argument("--model", default=None, help="saved text-to-music model folder (default: the shipped demo)")
    demo.add_argument("--host", default="127.0.0.1", help="address to serve on; 0.0.0.0 opens it to the network")
    demo.add_argument("--port", type=int, default=7860, help="port to serve on")
    demo.add_argument("--share", action="store_true", help="also open a temporary public gradio.live link")
    demo.set_defaults(func=_demo)
    from .conversion.cli import add_subcommands as add_conversion_subcommands
    from .training.cli import add_subcommands as add_training_subcommands

    add_training_subcommands(commands)
    add_conversion_subcommands(commands)
    show_defaults(parser)
    return parser


def show_defaults(parser: argparse.ArgumentParser) -> None:
    # Every command's help shows each option's default, whichever module added the command.
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                command.formatter_class = argparse.ArgumentDefaultsHelpFormatter
                show_defaults(command)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    return run_parsed(parser, parser.parse_args(argv))


def run_parsed(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run a parsed command; a bad value exits 2 with the parser's usage, a broken input file 1, one line each."""
    try:
        _apply_runtime_options(args)
        return args.func(args)
    except (ValueError, TypeError) as error:
        parser.error(str(error))  # exits with status 2 and the message; nothing was written
    except (FloatingPointError, FileNotFoundError) as error:  # broken weights, a missing input file
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
