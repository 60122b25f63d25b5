"""The A/B table (Markdown) from results/*.json."""

import glob
import json
from pathlib import Path

COLUMNS = ("candidate", "keys kept /16 (essentia; librosa)", "cadences /8 (essentia; librosa)", "comb (originals)",
           "note F1", "mel distance", "training CPU-min")
rows = [json.loads(Path(p).read_text()) for p in sorted(glob.glob("results/*.json")) if "calibration" not in p]
print("| " + " | ".join(COLUMNS) + " |")
print("|" + "---|" * len(COLUMNS))
for r in rows:
    cells = (r["name"], f"{r['keys_essentia']}; {r['keys_librosa']}", f"{r['cad_essentia']}; {r['cad_librosa']}",
             f"{r['comb']:.2f} ({r['comb_orig']:.2f})", f"{r['note_f1']:.3f}", f"{r['mel']:.3f}",
             f"{r['train_cpu_min']:.2f}")
    print("| " + " | ".join(cells) + " |")
