#!/usr/bin/env node
// Fails when git tracks something produced by running the code: a run or checkpoint directory, a
// checkpoint's files, metrics, loss curves, demo output. Committed test fixtures are the exception.
//   node scripts/check-run-outputs.mjs [REPO_DIR]
import { execFileSync } from 'node:child_process'

const repo = process.argv[2] ?? process.cwd()
const OUTPUT = [
  /(^|\/)(runs|checkpoints|videobert-demo)\//,
  /(^|\/)(optimizer\.safetensors|trainer_state\.json|metrics\.jsonl|loss-curve\.html)$/,
  /(^|\/)step-\d+\//,
]
const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: repo, encoding: 'utf8' }).split('\0').filter(Boolean)
const outputs = tracked.filter((f) => !f.startsWith('__test__/fixtures/') && OUTPUT.some((re) => re.test(f)))
if (outputs.length > 0) {
  for (const f of outputs) console.error(`run output tracked by git: ${f}`)
  console.error('nothing produced by running the code is committed: git rm --cached them (runs/ and checkpoints/ are in .gitignore)')
  process.exit(1)
}
console.log(`run outputs: none tracked (${tracked.length} files)`)
