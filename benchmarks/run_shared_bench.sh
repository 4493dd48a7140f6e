#!/usr/bin/env bash
# Run ../shared/bench (the loopback client-overhead benchmark) with our contenders beside
# the floor (raw aiohttp), raw httpx sync and the OpenAI SDK. Reports ratios; asserts nothing.
#
#   bash benchmarks/run_shared_bench.sh                 # 3 rounds, all workloads (~6 min)
#   ROUNDS=1 QUICK=1 bash benchmarks/run_shared_bench.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=${BENCH_DIR:-$ROOT/../shared/bench}
[[ -d $BENCH ]] || BENCH=$ROOT/../../shared/bench   # a worktree one level deeper
VENV=${BENCH_VENV:-$ROOT/.bench/venv}
if [[ ! -x $VENV/bin/python ]]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q 'openai[aiohttp]' httpx aiohttp httpx-sse orjson msgspec uvloop
fi
"$VENV/bin/pip" install -q -e "$ROOT"
mkdir -p "$ROOT/.bench"
cd "$BENCH"
exec "$VENV/bin/python" bench_clients.py \
  -c "${CONTENDERS:-vllm-client-async,vllm-client-sync,raw-aiohttp,raw-aiohttp-msgspec,raw-httpx-sync,openai-async,openai-sync}" \
  -w "${WORKLOADS:-a,b,c,d,e}" --rounds "${ROUNDS:-3}" ${QUICK:+--quick} \
  --json "$ROOT/.bench/results.json" --md "$ROOT/.bench/report.md"
