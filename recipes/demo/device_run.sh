#!/usr/bin/env bash
# One call on a lent GPU machine (no network there): install the carried wheels, rebuild the dataset from the packed
# npz, train the variants side by side (compare.py) and pack the results into $OUT (collect.py).
#   recipes/demo/device_run.sh [BUDGET_SECONDS]
# Expects, next to the checkout: .carry/demo (recipes/demo/pack.py's output) and .whl (wheels for Python 3.12).
set -uo pipefail
cd "$(dirname "$0")/../.."
BUDGET=${1:-300}
TOTAL=${2:-570}  # the call's own time limit: training stops in time for the results to be packed
OUT=${OUT:-/tmp/demo_out}
PACK=${PACK:-.carry/demo}
pip_install() { python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$@"; }
if [ -z "${SKIP_WHEELS:-}" ]; then  # SKIP_WHEELS=1: a dry run where the packages are already installed
  pip_install /tmp/site .whl/*.whl || exit 1
fi
export PYTHONPATH=/tmp/site:$PWD/src HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
if ! python3 -c "import datasets" 2>/dev/null; then  # datasets 5 needs pyarrow >= 24: fall back to datasets 4.0
  pip_install /tmp/site2 .whl/fallback/*.whl || exit 1
  export PYTHONPATH=/tmp/site2:$PYTHONPATH
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null
nvidia-smi >/dev/null 2>&1 || echo 'no GPU: a dry run'
python3 -c "import torch, transformers, datasets, pyarrow, simba_music; print('torch', torch.__version__, 'transformers', transformers.__version__, 'datasets', datasets.__version__, 'pyarrow', pyarrow.__version__, 'cuda', torch.cuda.is_available(), simba_music.kernel_report())" || exit 1
python3 recipes/demo/build_dataset.py $PACK /tmp/tokens || exit 1
python3 recipes/demo/compare.py --dataset /tmp/tokens --text-encoder $PACK/text-encoder --work /tmp/runs \
  --budget-seconds "$BUDGET" --deadline-seconds $((TOTAL - SECONDS - 50)) --threads-per-run 4 ${COMPARE_ARGS:-}
python3 recipes/demo/collect.py /tmp/runs "$OUT"
for log in /tmp/runs/*.log; do echo "== $log"; tail -c 600 "$log"; done
