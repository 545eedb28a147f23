#!/usr/bin/env bash
# `npm test`: every suite that runs without a GPU and without network. `npm test` runs
# scripts/setup.sh first (the `pretest` script), so the addon and dist/ are freshly built here.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "generated bindings are committed and current (index.js, index.d.ts)"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git diff --exit-code -- index.js index.d.ts || {
    echo "index.js / index.d.ts differ from a fresh 'napi build': commit the regenerated files" >&2
    exit 1
  }
fi

step "cargo test (every crate)"
# `napi build` compiles for an explicit --target (target/<host>/release); testing with the same
# target, profile and package set (--workspace: same feature unification) reuses every dependency
# it built instead of compiling them a second time.
source scripts/ffmpeg-env.sh   # the same FFmpeg, toolchain, features and environment as setup.sh's build
cargo test --release --target "$VIDEOBERT_TARGET" --workspace "${CARGO_FFMPEG_FEATURES[@]}"

step "tsc --noEmit (sources, tests, examples)"
npx tsc -p tsconfig.test.json

step "lint: rustfmt, clippy (warnings are errors), oxlint; no import cycles in src/; every cited path and Markdown link exists; no run output tracked"
cargo fmt --all --check
cargo clippy --release --target "$VIDEOBERT_TARGET" --workspace --lib --tests --examples "${CARGO_FFMPEG_FEATURES[@]}" -- -D warnings
npx oxlint --deny-warnings src __test__ benches scripts examples
# -T: type-only imports are erased at run time and make no cycle (errors.ts takes ErrorCode from native.ts).
npx dpdm -T --no-tree --no-warning --exit-code circular:1 src/index.ts src/cli/main.ts src/cli/commands.ts
node scripts/check-doc-paths.mjs
node scripts/check-run-outputs.mjs

step "API reference: TypeDoc over src/index.ts (every exported symbol documented, no broken links; npm run docs:api writes it)"
npx typedoc --emit none

step "vitest run"
npx vitest run

step "npm pack → install into a fresh project → import and train"
bash scripts/pack-test.sh
