#!/usr/bin/env bash
# The real corpus build and codec training run, on one core in the background.
# Usage: recipes/chorales/run.sh [DATA_DIR]      (default /work/data)
# Re-running resumes the codec from its newest complete checkpoint; the corpus is rebuilt only if missing.
set -euo pipefail
DATA=${1:-/work/data}
export HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1
mkdir -p "$DATA"
if [ ! -f "$DATA/corpus/manifest.jsonl" ]; then
  python -m simba_music.corpus.cli corpus build "$DATA/corpus" \
    --collections bach-chorales oneills essen --max-works 400 --workers 1 --no-progress
fi
python -m simba_music.codec.cli codec train "$DATA/corpus/manifest.jsonl" "$DATA/codec_run" \
  --threads 1 --checkpoint-minutes 10 --max-steps 200000 --resume --no-progress
