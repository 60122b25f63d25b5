"""Live music: an endless stream from a text-to-music model, steered while it plays (issue 33).

`LiveStream` is the library object; `simba_music.live_cli` is the `simba-music live` command."""

from .mix import check_mix, format_mix, parse_mix
from .stream import LiveChange, LiveStream, TimedChange

__all__ = ["LiveChange", "LiveStream", "TimedChange", "check_mix", "format_mix", "parse_mix"]
