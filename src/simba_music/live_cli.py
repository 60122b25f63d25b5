"""The work behind `simba-music live`: endless music to a player or a growing file, steered from stdin (the usage and
options: `simba_music_cli.live`)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
import time
from pathlib import Path

from simba_music_cli.live import STDOUT, STDOUT_FORMATS, LiveArguments, add_live_arguments, add_live_subcommand

SETTING_COMMANDS = {"/guidance": ("guidance_scale", float), "/temperature": ("temperature", float),
                    "/top-k": ("top_k", int)}
KEY_COMMAND = "/key"  # `/key F# minor` steers toward a key, `/key off` stops steering
TEMPO_COMMAND = "/tempo"  # `/tempo 96` steers toward a tempo, `/tempo off` stops steering


def run_command(namespace: argparse.Namespace) -> int:
    """`simba-music live`: the parsed options -> `run_live`."""
    return exit_after_signal(run_live(live_arguments(namespace)))


def exit_after_signal(status: int) -> int:
    """A stream stopped by a signal (status 128 + its number) has closed its file; leave at once with that status.
    Interpreter teardown after a signal sometimes aborted in torch's native thread pools ("terminate called without
    an active exception", status -6), which a caller would read as a crash."""
    if status > 128:
        for stream in (sys.stdout, sys.stderr):
            # a player that has gone, a closed stream: nothing left to say
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(status)
    return status


def live_arguments(namespace: argparse.Namespace) -> LiveArguments:
    from simba_music_cli.parsing import dataclass_from_arguments

    return dataclass_from_arguments(LiveArguments, namespace)


def check_arguments(args: LiveArguments) -> None:
    """Everything that can be checked before the model loads."""
    from .live.mix import parse_mix
    from .live.stream import check_seconds
    from .modeling.sampling import SamplingSettings, check_seed
    from .modeling.values import check_key_strength, check_tempo_bpm, check_tempo_strength, parse_key

    parse_mix(args.prompt)
    check_seed(args.seed, "--seed")
    if args.key is not None:
        parse_key(args.key, "--key")
    if args.key_strength is not None:
        check_key_strength(args.key_strength, "--key-strength")
    if args.tempo is not None:
        check_tempo_bpm(args.tempo, "--tempo")
    if args.tempo_strength is not None:
        check_tempo_strength(args.tempo_strength, "--tempo-strength")
    given = dict(temperature=args.temperature, top_k=args.top_k, guidance_scale=args.guidance)
    SamplingSettings(**{**dict(do_sample=True, temperature=1.0, top_k=0, top_p=1.0, guidance_scale=3.0),
                        **{name: value for name, value in given.items() if value is not None}}).check()
    if args.duration is not None and not args.duration > 0:
        raise ValueError(f"--duration: must be > 0 seconds, got {args.duration}")
    if not 0.1 <= args.lead_seconds <= 60:
        raise ValueError(f"--lead-seconds: must be in [0.1, 60], got {args.lead_seconds}")
    check_seconds(args.chunk_seconds, "--chunk-seconds", 0.0, 60.0)
    if args.stdout_format not in STDOUT_FORMATS:
        raise ValueError(f"--stdout-format: must be one of {list(STDOUT_FORMATS)}, got {args.stdout_format!r}")
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads: must be >= 1, got {args.threads}")
    if args.output == STDOUT:
        if sys.stdout.isatty():
            raise ValueError("--output: stdout is a terminal; pipe it into a player (e.g. | ffplay -f s16le -ar "
                             "16000 -ac 1 -) or give a file")
        return
    from .io_utils import audio_format, check_writable_file

    audio_format(args.output, "--output")
    # Unlike generate's, a live file grows in place and is never simba-music's finished output while it plays:
    # any existing file is refused unless --overwrite.
    check_writable_file(args.output, "--output", args.overwrite)
    if Path(args.output).exists() and not args.overwrite:
        raise ValueError(f"--output: {args.output!r} exists; give another name or --overwrite")


def run_live(args: LiveArguments) -> int:
    """Play until --duration, end of the player's pipe, Ctrl-C, SIGTERM or SIGHUP; returns the exit status (0, or
    128 + the signal's number)."""
    from .io_utils import Terminated, terminate_as_exception
    from .live import LiveStream, parse_mix

    check_arguments(args)
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    from .cli import load_model

    model, processor = load_model(args.model, args.seed)
    stream = LiveStream(model, processor, parse_mix(args.prompt), seed=args.seed, guidance_scale=args.guidance,
                        temperature=args.temperature, top_k=args.top_k, chunk_seconds=args.chunk_seconds,
                        key=args.key, key_strength=args.key_strength, tempo_bpm=args.tempo,
                        tempo_strength=args.tempo_strength)
    say = (lambda message: None) if args.quiet else (lambda message: print(message, file=sys.stderr, flush=True))
    threading.Thread(target=steer_from_lines, args=(sys.stdin, stream, say), daemon=True).start()
    status = 0
    with terminate_as_exception(), AudioSink(args, model.config) as sink:
        try:
            say(f"{sink.description}; type a prompt line (e.g. '0.7 calm harp; 0.3 church organ') to change the mix")
            played = play(stream, sink, args)
        except KeyboardInterrupt:
            status, played = 130, sink.seconds
        except Terminated as stop:
            status, played = stop.code, sink.seconds
        except BrokenPipeError:  # the player quit: a normal end
            status, played = 0, sink.seconds
    say(f"live: stopped after {played:.1f} s, {sink.underruns} underrun(s), {len(stream.change_log)} change(s)")
    return status


def play(stream, sink, args: LiveArguments) -> float:
    from tqdm.auto import tqdm

    pacer = RealTimePacer(args.lead_seconds) if args.pacing else None
    with tqdm(desc="live", unit="s", disable=args.quiet, bar_format="{desc}: {n:.1f} s [{elapsed}]") as bar:
        for chunk in stream:
            if args.duration is not None:
                chunk = chunk[..., :max(0, round((args.duration - sink.seconds) * sink.rate))]
            if pacer is not None:
                sink.underruns += pacer.wait_to_write(sink.seconds)
            sink.write(chunk)
            bar.update(chunk.shape[-1] / sink.rate)
            if args.duration is not None and sink.seconds >= args.duration - 0.5 / sink.rate:
                break
    return sink.seconds


class RealTimePacer:
    """Keeps what was written at most `lead_seconds` ahead of a player that started with the first write; counts
    underruns (the player ran dry: generation fell behind)."""

    def __init__(self, lead_seconds: float):
        self.lead_seconds = lead_seconds
        self.playback_start: float | None = None

    def wait_to_write(self, written_seconds: float) -> int:
        """Call before writing audio that starts at `written_seconds`; returns 1 on an underrun, else 0."""
        now = time.monotonic()
        if self.playback_start is None:
            self.playback_start = now
            return 0
        played = now - self.playback_start
        if played > written_seconds:  # the player has nothing left: it restarts when this chunk arrives
            self.playback_start = now - written_seconds
            return 1
        ahead = written_seconds - played
        if ahead > self.lead_seconds:
            time.sleep(ahead - self.lead_seconds)
        return 0


def steer_from_lines(lines, stream, say) -> None:
    """Each line: a new mix (`0.7 calm harp; 0.3 church organ`), a setting (`/guidance 4`), a key (`/key F# minor`,
    `/key off`) or a tempo (`/tempo 96`, `/tempo off`); errors are reported and the stream plays on."""
    from .live import format_mix, parse_mix

    for line in lines:
        line = line.strip()
        if not line:
            continue
        try:
            command, _, value = line.partition(" ")
            if command == KEY_COMMAND:
                stream.set_key(None if value.strip() == "off" else value.strip())
                say(f"live: key {value.strip()}")
            elif command == TEMPO_COMMAND:
                stream.set_tempo(None if value.strip() == "off" else float(value))
                say(f"live: tempo {value.strip()}")
            elif command in SETTING_COMMANDS:
                name, kind = SETTING_COMMANDS[command]
                stream.set_sampling(**{name: kind(value)})
                say(f"live: {command[1:]} {value}")
            else:
                mix = parse_mix(line, stream.max_prompts)
                stream.set_prompts(mix)
                say(f"live: mix {format_mix(mix)}")
        except ValueError as error:
            say(f"live: ignored {line!r}: {error}")


class AudioSink:
    """Where the chunks go: stdout (raw PCM or an open-length WAV) or a sound file flushed after every chunk, so
    that its header is right at any moment."""

    def __init__(self, args: LiveArguments, config):
        self.rate, self.channels = int(config.sampling_rate), int(config.audio_channels)
        self.samples, self.underruns = 0, 0
        self.stdout = args.output == STDOUT
        self.format = args.stdout_format
        self.output = args.output
        self.sound_file = None

    @property
    def seconds(self) -> float:
        return self.samples / self.rate

    @property
    def description(self) -> str:
        where = "stdout" if self.stdout else self.output
        kind = ("16-bit little-endian PCM (s16le)" if self.format == "raw" else "open-length 16-bit WAV") \
            if self.stdout else "audio file, growing"
        return f"live: {where}: {kind}, {self.rate} Hz, {self.channels} channel(s)"

    def __enter__(self):
        if self.stdout:
            from .audio.files import open_length_wav_header

            if self.format == "wav":
                sys.stdout.buffer.write(open_length_wav_header(self.rate, self.channels))
        else:
            import soundfile

            from .io_utils import audio_format

            sound_format, subtype = audio_format(self.output, "--output")
            self.sound_file = soundfile.SoundFile(self.output, "w", samplerate=self.rate, channels=self.channels,
                                                  subtype=subtype, format=sound_format)
        return self

    def write(self, chunk) -> None:
        """chunk: float [channels, samples]."""
        if self.stdout:
            from .audio.files import pcm16_bytes

            sys.stdout.buffer.write(pcm16_bytes(chunk.cpu().numpy()))
            sys.stdout.buffer.flush()
        else:
            import numpy as np

            self.sound_file.write(np.clip(chunk.T.float().cpu().numpy(), -1.0, 1.0))
            self.sound_file.flush()  # libsndfile rewrites the WAV header: the file is complete after every chunk
        self.samples += chunk.shape[-1]

    def __exit__(self, *exc_info):
        if self.sound_file is not None:
            self.sound_file.close()
        elif self.stdout:
            try:
                sys.stdout.buffer.flush()
            except BrokenPipeError:
                # The player is gone; point stdout at /dev/null so that the interpreter's own flush at exit
                # does not print a second traceback.
                import os

                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return False


def main(argv: list[str] | None = None) -> int:
    """`python -m simba_music.live_cli ...`: the command on its own (the main CLI adds it as `simba-music live`)."""
    from simba_music_cli import live as live_options

    parser = argparse.ArgumentParser(prog="simba-music live", description=live_options.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_live_arguments(parser)
    args = live_arguments(parser.parse_args(argv))
    try:
        return run_live(args)
    except (ValueError, TypeError) as error:
        parser.error(str(error))  # exits with status 2; nothing was written


if __name__ == "__main__":
    sys.exit(exit_after_signal(main()))


__all__ = ["LiveArguments", "add_live_subcommand", "main", "run_command", "run_live"]
