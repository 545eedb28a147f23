#!/usr/bin/env bash
# Pack the package as it would be published, install the tarball into a fresh temporary project
# (no network: the package has no runtime dependencies), import it by name, create a tiny model and
# run a training step.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$root"
tarball=$(npm pack --silent --pack-destination "$work" | tail -n 1)
echo "packed $tarball ($(du -h "$work/$tarball" | cut -f1))"

cd "$work"
npm init -y >/dev/null
npm pkg set type=module
npm install --no-audit --no-fund --offline "./$tarball" >/dev/null
cat > smoke.mjs <<'JS'
import { VideoBERT, randomBatch, presets, VideoBertError } from 'videobert-native'
const model = await VideoBERT.create('tiny', { seed: 1 })
const m = await model.trainStep(randomBatch(presets.tiny, { batchSize: 4 }), { lr: 1e-3 })
if (!Number.isFinite(m.loss) || model.step !== 1) throw new Error('bad step ' + JSON.stringify(m))
try {
  await VideoBERT.create('nope')
  throw new Error('expected an error')
} catch (e) {
  if (!(e instanceof VideoBertError) || e.code !== 'UnknownPreset') throw e
}
console.log(`installed package: ${model.numParameters} parameters, loss ${m.loss.toFixed(3)}`)
JS
node smoke.mjs
