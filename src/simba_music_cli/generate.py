"""`simba-music generate` and `simba-music demo`: their options and checks are plain Python, so that `--help` and a
bad value answer before torch is imported; the work itself imports the library."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from .values import (
    DEFAULT_KEY_STRENGTH,
    DEFAULT_MAX_DURATION_S,
    DEFAULT_TEMPO_STRENGTH,
    MAX_KEY_STRENGTH,
    MAX_TEMPO_STRENGTH,
    TEMPO_BPM_RANGE,
    check_guidance_scale,
    check_key_strength,
    check_seed,
    check_tempo_bpm,
    check_tempo_strength,
    parse_key,
    saved_generation_defaults,
)

DEMO_MODEL = "simba-music-demo"
RANDOM_MODEL = "random"  # --model random: the tiny untrained smoke-test model


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _duration(text: str) -> float:
    value = _number(text)
    if not math.isfinite(value) or not 0 < value <= DEFAULT_MAX_DURATION_S:
        raise argparse.ArgumentTypeError(f"must be in (0, {DEFAULT_MAX_DURATION_S:g}] seconds, got {text}")
    return value


def _checked_number(check, flag: str):
    """An argparse type: a number that `check` (a `values` checker) accepts, its message without the flag's name
    (argparse names it)."""
    def parse(text: str) -> float:
        try:
            return check(_number(text), flag)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error).removeprefix(f"{flag}: ")) from None
    return parse


_guidance = _checked_number(check_guidance_scale, "--guidance")
_key_strength = _checked_number(check_key_strength, "--key-strength")
_tempo = _checked_number(check_tempo_bpm, "--tempo")
_tempo_strength = _checked_number(check_tempo_strength, "--tempo-strength")


def _key(text: str) -> str:
    try:
        parse_key(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error).removeprefix("key: ")) from None
    return text


def _seed(text: str) -> int:
    try:
        return check_seed(int(text), "--seed")
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an int in [0, 2**64), got {text!r}") from None


def _threads(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an int >= 1, got {text!r}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be an int in [0, 65535], got {text!r}")
    return value


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


def add_runtime_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=_threads, default=physical_cores(),
                        help="CPU threads for torch (default: this machine's physical cores, "
                             f"{physical_cores()}). On a busy machine fewer threads can be faster")
    parser.add_argument("--quiet", action="store_true", help="no progress bars at all (loading included)")


def add_generate(commands, help_text: str) -> None:
    saved = saved_generation_defaults()
    from_config = "default: the model's saved generation config; the shipped demo's is {}"
    generate = commands.add_parser("generate", help=help_text, description=help_text)
    generate.add_argument("prompt", help="caption of the music, e.g. an instrument, a key, a tempo, a metre, a style; "
                                         "'' with --guidance 0 for unconditional music")
    generate.add_argument("--output", "-o", default="out.wav", help="audio file: .wav, .flac or .ogg (by extension)")
    generate.add_argument("--duration", type=_duration, default=None,
                          help=f"seconds, at most {DEFAULT_MAX_DURATION_S:g} "
                               f"({from_config.format(saved['duration'])})")
    generate.add_argument("--model", default=None,
                          help=f"saved text-to-music model folder, Hub id or '{DEMO_MODEL}' (default: the shipped "
                               "demo model, trained on the offline chorale and folk corpus; "
                               f"'{RANDOM_MODEL}': a tiny untrained model)")
    generate.add_argument("--seed", type=_seed, default=0,
                          help="random seed, an int in [0, 2**64); the same seed gives the same audio")
    generate.add_argument("--guidance", type=_guidance, default=None,
                          help="classifier-free guidance scale: 1 disables it, 0 ignores the prompt "
                               f"({from_config.format(saved['guidance_scale'])})")
    generate.add_argument("--key", type=_key, default=None,
                          help="steer toward this key, e.g. 'F# minor' (default: the key the prompt states, where "
                               "the model's codec carries pitch and its generation config steers keys)")
    generate.add_argument("--key-strength", type=_key_strength, default=None,
                          help=f"how hard to steer toward the key, in [0, {MAX_KEY_STRENGTH:g}]; 0 turns it off "
                               f"(default: the model's generation config, else {DEFAULT_KEY_STRENGTH:g})")
    generate.add_argument("--tempo", type=_tempo, default=None, metavar="BPM",
                          help=f"start new sounds on the beats of this tempo, in [{TEMPO_BPM_RANGE[0]:g}, "
                               f"{TEMPO_BPM_RANGE[1]:g}] BPM (default: the tempo the prompt states, where the model's "
                               "generation config steers tempo)")
    generate.add_argument("--tempo-strength", type=_tempo_strength, default=None,
                          help=f"how hard to steer toward the tempo, in [0, {MAX_TEMPO_STRENGTH:g}]; 0 turns it off "
                               f"(default: the model's generation config, else {DEFAULT_TEMPO_STRENGTH:g})")
    generate.add_argument("--spectrogram", default=None, help="also write a spectrogram PNG here")
    generate.add_argument("--overwrite", action="store_true",
                          help="replace an existing --output/--spectrogram file that simba-music did not write, or "
                               "that was changed since (files simba-music wrote are replaced without it)")
    add_runtime_options(generate)
    generate.set_defaults(run="simba_music.cli:run_generate")


# As stated on the demo page (simba_music.app.session.LIMITS_HELP, which reads the store's bounds).
DEMO_LIMITS = ("One request runs at a time and at most 16 wait; more are turned away. Requests are at most 30 s of "
               "audio. The newest results (at most 64 MB) are kept for download and deleted when the server stops; "
               "nothing can be uploaded.")


def add_demo(commands, help_text: str) -> None:
    demo = commands.add_parser("demo", help=help_text, description=f"{help_text}. {DEMO_LIMITS}")
    demo.add_argument("--model", default=None, help="saved text-to-music model folder (default: the shipped demo)")
    demo.add_argument("--host", default="127.0.0.1", help="address to serve on; 0.0.0.0 opens it to the network")
    demo.add_argument("--port", type=_port, default=7860, help="port to serve on")
    demo.add_argument("--share", action="store_true", help="also open a temporary public gradio.live link")
    demo.set_defaults(run="simba_music.cli:run_demo")


def check_generate_arguments(args: argparse.Namespace) -> None:
    """Checks across options, before the model loads: an empty prompt needs --guidance 0 (nothing to guide by)."""
    if not args.prompt.strip() and args.guidance != 0:
        raise ValueError("prompt: it is empty; describe the music, or pass --guidance 0 for unconditional music")
    if args.spectrogram is not None and Path(args.spectrogram).suffix.lower() != ".png":
        raise ValueError(f"--spectrogram: writes a PNG image, so the file name must end in .png, "
                         f"got {args.spectrogram!r}")


__all__ = ["DEMO_MODEL", "RANDOM_MODEL", "add_demo", "add_generate", "add_runtime_options", "check_generate_arguments",
           "physical_cores"]
