#!/usr/bin/env bash
# Stage the packages as they are published (scripts/stage-packages.mjs: the main package with its
# optionalDependencies, the host's platform package with the .node), install both tarballs into a
# fresh temporary project (no network: the packages have no other runtime dependencies), import
# the package by name, create a tiny model and run a training step — in an ES module project with
# `import` and in a CommonJS project with `require()`; then check that a missing
# platform package is one clear line from the CLI.
# With VIDEOBERT_FFMPEG=system the binary links the system's FFmpeg and is not a publishable
# platform package: the main tarball is installed and the local build loaded explicitly.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root"
source scripts/ffmpeg-env.sh

mkdir -p "$work/project" "$work/stage"
if [ "$VIDEOBERT_FFMPEG" = static ]; then
  mapfile -t tarballs < <(node scripts/stage-packages.mjs --pack --out "$work/stage")
  for t in "${tarballs[@]}"; do echo "packed $(basename "$t") ($(du -h "$t" | cut -f1))"; done
else
  tarballs=("$work/stage/$(npm pack --silent --pack-destination "$work/stage" | tail -n 1)")
  export NAPI_RS_NATIVE_LIBRARY_PATH="$root/$(ls videobert-native.*.node | head -n 1)"
  echo "system FFmpeg: installing the main package only, loading $NAPI_RS_NATIVE_LIBRARY_PATH"
fi

cd "$work/project"
npm init -y >/dev/null
npm pkg set type=module
npm install --no-audit --no-fund --offline "${tarballs[@]}" >/dev/null
# The published main package carries no binary: it must come from the platform package.
if ls node_modules/videobert-native/*.node >/dev/null 2>&1; then echo "the main package contains a .node" >&2; exit 1; fi
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
npx --no-install videobert --help | head -n 1

# A CommonJS project (no "type" field) loads the same package with require().
mkdir -p "$work/cjs-project" && cd "$work/cjs-project"
npm init -y >/dev/null
npm install --no-audit --no-fund --offline "${tarballs[@]}" >/dev/null
cat > smoke.cjs <<'JS'
const { VideoBERT, randomBatch, presets, VideoBertError, videoFormats } = require('videobert-native')
const { version } = require('videobert-native/package.json')
VideoBERT.create('tiny', { seed: 1 }).then(async (model) => {
  const m = await model.trainStep(randomBatch(presets.tiny, { batchSize: 4 }), { lr: 1e-3 })
  if (!Number.isFinite(m.loss) || model.step !== 1) throw new Error('bad step ' + JSON.stringify(m))
  if (!(new VideoBertError('Io', 'x') instanceof Error)) throw new Error('VideoBertError')
  // The CLI's library entry point: main(argv) resolves to the exit code.
  const { main } = require('videobert-native/cli')
  const code = await main(['inspect', 'no-such-dir'])
  if (code !== 1) throw new Error(`require('videobert-native/cli').main: exit ${code}`)
  console.log(`require('videobert-native') ${version} and require('videobert-native/cli') in a CommonJS project: loss ${m.loss.toFixed(3)}, ${videoFormats().videoCodecs.length} video codecs`)
})
JS
node smoke.cjs
cd "$work/project"

if [ "$VIDEOBERT_FFMPEG" = static ]; then
  # Without the platform package (npm install --omit=optional): one line naming the package, exit 1.
  platform_pkg=$(ls -d node_modules/videobert-native-* | head -n 1)
  mv "$platform_pkg" "$work/aside"
  set +e
  err=$(npx --no-install videobert --help 2>&1 >/dev/null); code=$?
  set -e
  mv "$work/aside" "$platform_pkg"
  echo "without the platform package: exit $code: $err"
  [ "$code" = 1 ] && [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] && [[ "$err" == *"$(basename "$platform_pkg")"* ]] ||
    { echo "expected one line naming $(basename "$platform_pkg") and exit 1" >&2; exit 1; }
fi
