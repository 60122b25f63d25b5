"""The work behind `simba-music generate` and `demo`, and the training and conversion commands' parsers.

The command line itself is `simba_music_cli` (plain Python, so that help and usage errors answer at once); it imports
this module only to run a command. `python -m simba_music.cli` (and `accelerate launch -m simba_music.cli`) runs it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from simba_music_cli import main
from simba_music_cli.generate import RANDOM_MODEL, check_generate_arguments


def load_model(name: str | None, seed: int = 0):
    """(model, processor) for a command's `--model`: a shipped name, a folder or a Hub id; the tiny random model
    (seeded by `seed`, with a note on stderr) for RANDOM_MODEL. Errors name `--model`."""
    from .shipped import resolve_model

    name = resolve_model(name)
    if name == RANDOM_MODEL or name is None:
        from .testing_utils import random_model

        print("NOTE: this runs a tiny RANDOMLY INITIALISED text encoder, decoder and codec, so the output is "
              "structured noise and the prompt has no learned effect.", file=sys.stderr)
        return random_model(seed)
    from transformers import AutoModelForTextToWaveform, AutoProcessor

    try:
        model = AutoModelForTextToWaveform.from_pretrained(name).eval()
    except OSError as error:
        raise ValueError(f"--model: cannot load a text-to-music model from {name!r}: {error}") from error
    try:
        processor = AutoProcessor.from_pretrained(name)
    except (OSError, ValueError) as error:
        raise ValueError(f"--model: {name!r} has no SimbaMusicProcessor (tokenizer files): {error}") from error
    return model, processor


def _check_destinations(args: argparse.Namespace) -> tuple[str, str]:
    """Every file `generate` will write is checked before the model loads, so a long run never ends in an error."""
    from .audio.files import SPECTROGRAM_SUFFIXES
    from .io_utils import audio_format, check_writable_file

    check_writable_file(args.output, "--output", args.overwrite)
    sound_format = audio_format(args.output, "--output")
    if args.spectrogram is not None:
        check_writable_file(args.spectrogram, "--spectrogram", args.overwrite, SPECTROGRAM_SUFFIXES)
        if Path(args.spectrogram).resolve() == Path(args.output).resolve():
            raise ValueError(f"--spectrogram: {args.spectrogram!r} is also --output; give another file name")
    return sound_format


def run_generate(args: argparse.Namespace) -> int:
    import soundfile

    from .audio.files import WavFileStreamer, write_spectrogram
    from .io_utils import atomic_path, output_errors, terminate_as_exception
    from .modeling.processing import check_prompts

    check_generate_arguments(args)
    # With --guidance 0 the prompt's row is multiplied by 0: an empty prompt asks for exactly that, and any
    # placeholder caption gives the same audio (the unconditional row alone).
    prompt = args.prompt if args.prompt.strip() or args.guidance != 0 else "unconditional"
    check_prompts(prompt)
    sound_format, subtype = _check_destinations(args)
    model, processor = load_model(args.model, args.seed)
    rate, channels = model.config.sampling_rate, model.config.audio_channels
    inputs = processor([prompt])  # a prompt that tokenises to nothing is refused here, before generating
    if args.key is not None:
        model.codec.check_reads_pitch("--key")
    steering = model.caption_steering([prompt])  # the key and tempo the prompt states, where the model follows them
    steering.update({name: value for name, value in (("key", args.key), ("tempo_bpm", args.tempo))
                     if value is not None})
    for flag, name, strength, source in (("--key-strength", "key", args.key_strength, "--key"),
                                         ("--tempo-strength", "tempo_bpm", args.tempo_strength, "--tempo")):
        if strength and all(value is None for value in _as_list(steering.get(name))):
            print(f"simba-music: {flag} has nothing to steer: the prompt states no {name.split('_')[0]} the model "
                  f"follows, and {source} is not given", file=sys.stderr)

    # The audio is streamed to a temporary file while generating (flat memory at any length) and renamed over
    # --output only when generation succeeded; SIGTERM, like Ctrl-C, removes the temporary file.
    with (terminate_as_exception(),
          output_errors(args.output, "--output"),
          atomic_path(args.output, suffix=f".{sound_format.lower()}") as temporary,
          soundfile.SoundFile(str(temporary), "w", samplerate=rate, channels=channels, subtype=subtype,
                              format=sound_format) as sound_file):
        writer = WavFileStreamer(sound_file)
        model.generate(**inputs, duration=args.duration, seed=args.seed, guidance_scale=args.guidance,
                       **steering, key_strength=args.key_strength, tempo_strength=args.tempo_strength,
                       streamer=writer, return_audio=False, progress_bar=not args.quiet)
    # The spectrogram comes after the audio is in place: a failure there never costs the finished audio.
    if args.spectrogram is not None:
        audio, _ = soundfile.read(args.output, dtype="float32")
        with output_errors(args.spectrogram, "--spectrogram"):
            write_spectrogram(args.spectrogram, audio, rate, title=args.prompt, overwrite=args.overwrite)
    print(f"wrote {args.output}: {writer.frames / rate:.2f} s at {rate} Hz"
          + (f", spectrogram {args.spectrogram}" if args.spectrogram else ""), file=sys.stderr)
    return 0


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def run_demo(args: argparse.Namespace) -> int:
    from .app.session import check_server_options

    args.model = check_server_options(args.host, args.port, args.model)  # before gradio and the model load
    try:
        from .app.ui import launch
    except ImportError as error:
        raise ValueError(f"demo: needs gradio ({error}); pip install 'simba-music[demo]'") from error
    launch(args.model, host=args.host, port=args.port, share=args.share)
    return 0


__all__ = ["main", "run_demo", "run_generate"]


if __name__ == "__main__":
    sys.exit(main())
