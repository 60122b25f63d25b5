"""`simba-music live "prompt"`: endless music to a player or a growing file, steered by prompt lines typed on stdin.

    simba-music live "0.7 calm harp; 0.3 church organ" | ffplay -f s16le -ar 16000 -ac 1 -     (raw PCM on stdout)
    simba-music live "solo flute" --stdout-format wav | aplay                              (WAV with an open length)
    simba-music live "solo flute" --output live.wav     (grows as it plays; a valid file after Ctrl-C/SIGTERM/SIGHUP)

While it plays, a line on stdin replaces the mix (`0.5 violin; 0.5 cello`), `/guidance 4`, `/temperature 1.1` or
`/top-k 100` change the sampling, `/key F# minor` (or `/key off`) steers the key and `/tempo 96` (or `/tempo off`)
the tempo; a line that does not parse is reported and the music goes on.

The output file grows in place (that is the point: it can be played or copied while it grows), so unlike
`generate` it is not written to a temporary file and renamed; an existing file is refused unless --overwrite.

Its options, in plain Python: `--help` and a usage error answer before torch is imported.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field

from .values import DEFAULT_KEY_STRENGTH, DEFAULT_TEMPO_STRENGTH, MAX_KEY_STRENGTH, MAX_TEMPO_STRENGTH, TEMPO_BPM_RANGE

STDOUT = "-"
STDOUT_FORMATS = ("raw", "wav")


@dataclass
class LiveArguments:
    prompt: str = field(metadata={"help": "a prompt, or a weighted mix: '0.7 calm harp; 0.3 church organ' (a "
                                          "leading number is a weight: quote a prompt that begins with a "
                                          "number, \"80 BPM organ\")"})
    output: str = field(default=STDOUT, metadata={
        "help": "'-' for stdout (to a player), or a .wav/.flac/.ogg file that grows as it plays"})
    stdout_format: str = field(default="raw", metadata={
        "help": "with --output -: 'raw' (16-bit little-endian PCM; rate and channels are printed on stderr) or "
                "'wav' (a WAV header with an open length, then the PCM)"})
    model: str | None = field(default=None, metadata={
        "help": "saved text-to-music model folder, Hub id, 'simba-music-demo' (default) or 'random' (tiny, untrained)"})
    duration: float | None = field(default=None, metadata={"help": "stop after this many seconds (default: never)"})
    seed: int = field(default=0, metadata={
        "help": "random seed; the same seed (and no typed changes) gives the same audio"})
    guidance: float | None = field(default=None, metadata={
        "help": "classifier-free guidance scale (default: the model's generation config)"})
    temperature: float | None = field(default=None, metadata={"help": "sampling temperature (default: the model's)"})
    top_k: int | None = field(default=None, metadata={
        "help": "sample among the k likeliest codes (default: the model's)"})
    key: str | None = field(default=None, metadata={
        "help": "steer toward this key, e.g. 'F# minor', for a model whose codec carries pitch (default: the key the "
                "prompts state, where the model steers keys)"})
    key_strength: float | None = field(default=None, metadata={
        "help": f"how hard to steer toward the key, in [0, {MAX_KEY_STRENGTH:g}] (default: the model's generation "
                f"config, else {DEFAULT_KEY_STRENGTH:g})"})
    tempo: float | None = field(default=None, metadata={
        "help": f"start new sounds on the beats of this tempo, in [{TEMPO_BPM_RANGE[0]:g}, {TEMPO_BPM_RANGE[1]:g}] BPM "
                "(default: the tempo the prompts state, where the model steers tempo)"})
    tempo_strength: float | None = field(default=None, metadata={
        "help": f"how hard to steer toward the tempo, in [0, {MAX_TEMPO_STRENGTH:g}] (default: the model's "
                f"generation config, else {DEFAULT_TEMPO_STRENGTH:g})"})
    pacing: bool = field(default=True, metadata={
        "help": "real-time pacing: stay at most --lead-seconds ahead of playback (--no-pacing: as fast as possible)"})
    lead_seconds: float = field(default=2.0, metadata={"help": "how far ahead of playback generation may run"})
    chunk_seconds: float = field(default=1.0, metadata={"help": "audio per decoded chunk (latency of a change)"})
    overwrite: bool = field(default=False, metadata={"help": "replace an existing --output file"})
    threads: int | None = field(default=None, metadata={"help": "CPU threads for torch (default: torch's)"})
    quiet: bool = field(default=False, metadata={"help": "no progress bar and no messages but errors"})


def add_live_arguments(parser: argparse.ArgumentParser) -> None:
    from .parsing import add_dataclass_arguments

    helps = {spec.name: {"help": spec.metadata["help"]} for spec in dataclasses.fields(LiveArguments)}
    helps["stdout_format"]["choices"] = STDOUT_FORMATS
    add_dataclass_arguments(parser, LiveArguments, positional=("prompt",), options=helps,
                            aliases={"output": ("-o",)})


def add_live_subcommand(subparsers, help_text: str = "endless music, steered from stdin while it plays"):
    """Add `live` to a `parser.add_subparsers()` object; the parsed namespace's `run` names the function that runs
    it (`simba_music.live_cli.run_command`), imported only then."""
    parser = subparsers.add_parser("live", help=help_text, description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    add_live_arguments(parser)
    parser.set_defaults(run="simba_music.live_cli:run_command")
    return parser


__all__ = ["STDOUT", "STDOUT_FORMATS", "LiveArguments", "add_live_arguments", "add_live_subcommand"]
