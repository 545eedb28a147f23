#!/usr/bin/env bash
# Moment retrieval on real footage, measured as the walk-through (docs/subtitles.md) runs it: the
# four clips of scripts/fetch-real-footage.sh with their subtitles → manifest → vocab → tokenize with
# torchvision's ImageNet MobileNetV2 (scripts/fetch-backbone-weights.sh) → pretrain (defaults,
# --split time) for seeds 0, 1, 2 → `retrieve --segments` (defaults): each cue's own text as a query
# over its video's moments, R@1 and R@5 against chance, mean ± sd over the seeds.
#   bash scripts/real-moments.sh [WORK_DIR]        (default /tmp/videobert-real-moments)
# Needs the built package (npm run build) and the network once (the packages are cached).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-/tmp/videobert-real-moments}"
V=(node "$here/dist/cli/main.js")
mkdir -p "$work" && cd "$work"
bash "$here/scripts/fetch-real-footage.sh" footage
"${V[@]}" manifest footage --out set.jsonl
"${V[@]}" vocab --manifest set.jsonl --out tokenizer.json
bash "$here/scripts/fetch-backbone-weights.sh" weights
"${V[@]}" tokenize set.jsonl --out shards --extractor mobilenet_v2 --weights weights/mobilenet_v2-b0353104.pth
for seed in 0 1 2; do
  [ -d "run-$seed/checkpoints/step-1000" ] || "${V[@]}" pretrain --data shards --tokenizer tokenizer.json --out "run-$seed" --split time --seed "$seed" 2>&1 | tail -1
  "${V[@]}" retrieve --checkpoint "run-$seed/checkpoints/step-1000" --shards shards --segments --json >"moments-$seed.json"
done
node -e '
const r = [0, 1, 2].map((s) => JSON.parse(require("fs").readFileSync(`moments-${s}.json`, "utf8")))
const ms = (xs) => { const m = xs.reduce((a, b) => a + b, 0) / xs.length; const sd = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1)); return `${m.toFixed(3)} ± ${sd.toFixed(3)}` }
console.log(`moments: ${r[0].queries} cues as queries, ${r[0].momentsPerVideo.toFixed(1)} moments per video searched (3 seeds)`)
for (const k of ["1", "5"]) console.log(`  R@${k} ${ms(r.map((x) => x.recall[k]))}   chance ${r[0].chance[k].toFixed(3)}   per seed ${r.map((x) => x.recall[k].toFixed(3)).join(" ")}`)
'
