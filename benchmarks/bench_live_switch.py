"""Live stream benchmark (issue 33): is a prompt change heard within 4 seconds? Printed as JSON.

    python benchmarks/bench_live_switch.py [--switches 10] [--threads 2] [--smoke] [--no-progress]

One stream of the shipped demo; every 10 s of audio the mix switches to a prompt naming another instrument, and the
instrument classifier trained through the demo's codec labels the audio from 4 s to 10 s after the step at which the
change applied. Target: the new instrument named in at least 8 of 10 switches. Each prompt names the instrument in
a repertoire the demo was trained on with it (a chorale for the chorale instruments, a folk song for the others:
the corpus never put a violin in a chorale). The control: each target prompt played by a fresh stream (its own
seed), labelled over the same 4-10 s; a switch can only be heard where the model plays that prompt's instrument at
all, so the report gives both. `--smoke`: one short switch (runs, means nothing). Needs the lab distribution
(`pip install -e lab`).
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch
from transformers import AutoModelForTextToWaveform, AutoProcessor

import simba_music
from simba_music.live import LiveStream

try:  # the instrument classifier and the corpus' instrument pools live in the lab distribution (`pip install -e lab`)
    from simba_music.captions.templates import INSTRUMENTS as PROGRAM_NAMES
    from simba_music_lab.corpus.builder import INSTRUMENT_POOLS
    from simba_music_lab.evaluation.instrument import InstrumentClassifier, default_classifier_dir
except ImportError as error:
    raise SystemExit(f"bench_live_switch: needs simba-music-lab for the instrument classifier ({error}); "
                     "pip install -e lab") from None

INSTRUMENTS = ["flute", "church organ", "violin", "acoustic grand piano", "harp", "accordion", "cello", "choir",
               "clarinet", "harpsichord", "oboe"]
HEARD_FROM, SEGMENT = 4.0, 10.0  # seconds after the change: the classified audio is [HEARD_FROM, SEGMENT)


CHORALE_INSTRUMENTS = {PROGRAM_NAMES[program] for program in INSTRUMENT_POOLS["bach-chorales"]}


def prompt(instrument: str) -> str:
    genre = "baroque chorale" if instrument in CHORALE_INSTRUMENTS else "folk song"
    return f"{instrument[0].upper()}{instrument[1:]} plays a moderate {genre} in G major; 4/4, 80 BPM."


def play(stream: LiveStream, seconds: float, rate: int, bar) -> np.ndarray:
    """At least `seconds` of the stream's audio, mono float."""
    chunks, samples = [], 0
    while samples < seconds * rate:
        chunk = next(stream).mean(0).numpy()
        chunks.append(chunk)
        samples += chunk.size
        bar.update(chunk.size / rate)
    return np.concatenate(chunks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--switches", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--priming-seconds", type=float, default=None, help="LiveStream's (default: its default)")
    parser.add_argument("--reprime-seconds", type=float, default=None, help="LiveStream's (default: its default)")
    parser.add_argument("--smoke", action="store_true", help="one short switch: checks that it runs")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm bar")
    args = parser.parse_args()
    from tqdm.auto import tqdm

    torch.set_num_threads(args.threads)
    switches, heard_from, segment = (1, 1.0, 2.0) if args.smoke else (args.switches, HEARD_FROM, SEGMENT)
    path = simba_music.demo_model_path()
    model = AutoModelForTextToWaveform.from_pretrained(path).eval()
    processor = AutoProcessor.from_pretrained(path)
    classifier_dir = default_classifier_dir(model.audio_encoder)
    classifier = InstrumentClassifier.load(classifier_dir)
    rate, hop = model.config.sampling_rate, model.codec.hop_length
    windows = {name: value for name, value in (("priming_seconds", args.priming_seconds),
                                               ("reprime_seconds", args.reprime_seconds)) if value is not None}
    stream = LiveStream(model, processor, prompt(INSTRUMENTS[0]), seed=0, **windows)
    results = []
    with tqdm(total=round(heard_from + 2 * switches * segment), unit="s audio", disable=args.no_progress) as bar:
        played = play(stream, heard_from, rate, bar).size  # samples since the stream began
        for index in range(switches):
            before, after = INSTRUMENTS[index % len(INSTRUMENTS)], INSTRUMENTS[(index + 1) % len(INSTRUMENTS)]
            stream.set_prompts(prompt(after))
            audio = play(stream, segment + 2.0, rate, bar)  # 2 s to spare: the change lands a chunk later
            changed_at = stream.change_log[-1].step * hop - played  # in `audio`'s samples
            played += audio.size
            window = audio[changed_at + round(heard_from * rate):changed_at + round(segment * rate)]
            label, probabilities = classifier.predict(window, rate)
            results.append({"from": before, "to": after, "heard": label,
                            "probability_of_new": round(probabilities[after], 3)})
        for index, result in enumerate(results):  # the control: the same prompt from the start of a fresh stream
            fresh = LiveStream(model, processor, prompt(result["to"]), seed=1 + index, **windows)
            audio = play(fresh, segment, rate, bar)[round(heard_from * rate):round(segment * rate)]
            result["fresh_stream_heard"] = classifier.predict(audio, rate)[0]
    heard = sum(result["heard"] == result["to"] for result in results)
    playable = [result for result in results if result["fresh_stream_heard"] == result["to"]]
    print(json.dumps({"model": "simba-music-demo", "threads": args.threads, "switches": switches, **windows,
                      "heard_from_seconds": heard_from, "until_seconds": segment, "new_instrument_named": heard,
                      "target": f">= {round(0.8 * switches)} of {switches}", "classifier": classifier_dir.name,
                      "fresh_stream_named": len(playable),
                      "new_instrument_named_where_a_fresh_stream_plays_it":
                          f"{sum(result['heard'] == result['to'] for result in playable)} of {len(playable)}",
                      "results": results}, indent=1))


if __name__ == "__main__":
    main()
