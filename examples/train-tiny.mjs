// Train the `tiny` preset for 100 steps on synthetic data with a hidden structure (see
// src/random-batch.ts) and print the falling losses. Run: `node examples/train-tiny.mjs`.
import { VideoBERT, randomBatch } from 'videobert-native'

const steps = Number(process.env.STEPS ?? 100)
const model = await VideoBERT.create('tiny', { seed: 1 })
console.log(`tiny preset: ${model.numParameters.toLocaleString()} parameters`)

const validation = randomBatch(model.config, { batchSize: 32, seed: 1_000_000 })
const report = async (label) => {
  const v = await model.evaluate(validation)
  console.log(
    `${label.padEnd(12)} held-out loss ${v.loss.toFixed(3)}  mlm ${v.mlmLoss.toFixed(3)}  video ${v.videoLoss.toFixed(3)}  vtm ${v.vtmLoss.toFixed(3)}`,
  )
  return v
}

const before = await report('before')
const t0 = performance.now()
for (let step = 1; step <= steps; step++) {
  const lr = 2e-3 * Math.min(1, step / 10) // linear warm-up, then constant
  const m = await model.trainStep(randomBatch(model.config, { batchSize: 16, seed: step }), { lr })
  if (step % 10 === 0 || step === 1) {
    console.log(
      `step ${String(step).padStart(3)}  loss ${m.loss.toFixed(3)}  mlm ${m.mlmLoss.toFixed(3)}  video ${m.videoLoss.toFixed(3)}  vtm ${m.vtmLoss.toFixed(3)}  |g| ${m.gradNorm.toFixed(2)}`,
    )
  }
}
const seconds = (performance.now() - t0) / 1000
const after = await report('after')
console.log(`${steps} steps in ${seconds.toFixed(1)} s (${(steps / seconds).toFixed(1)} steps/s)`)
if (!(after.loss < before.loss)) {
  console.error('held-out loss did not fall')
  process.exit(1)
}
