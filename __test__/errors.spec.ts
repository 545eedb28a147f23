import { copyFileSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

import { ERROR_CODES, presets, randomBatch, VideoBERT, VideoBertError } from '../src/index.js'
import { fromNative } from '../src/native.js'
import { expectCode, tempDir } from './helpers.js'

const tiny = presets.tiny
const good = () => randomBatch(tiny, { batchSize: 2, seed: 1 })

describe('bad input → VideoBertError with a specific code', () => {
  it('wrong shapes name the field and the expected length', async () => {
    const model = await VideoBERT.create('tiny')
    await expectCode(
      () => model.trainStep({ ...good(), textIds: new Uint32Array(31) }, { lr: 1e-3 }),
      'InvalidInput',
      /`textIds`: expected 32 elements \(\[batchSize=2, maxTextLen=16\]\), got 31/,
    )
    await expectCode(
      () => model.trainStep({ ...good(), videoFeatures: new Float32Array(10) }, { lr: 1e-3 }),
      'InvalidInput',
      /`videoFeatures`: expected 2048 elements \(\[batchSize=2, maxSegments=8, numRegions=4, featureDim=32\]\)/,
    )
    await expectCode(() => model.evaluate({ ...good(), vtmLabels: new Uint8Array(3) }), 'InvalidInput', /`vtmLabels`: expected 2/)
    await expectCode(
      () => model.trainStep({ ...good(), textIds: new Int32Array(32) as unknown as Uint32Array }, { lr: 1e-3 }),
      'InvalidInput',
      /`textIds`: expected a Uint32Array/,
    )
    await expectCode(() => model.trainStep({ ...good(), batchSize: -1 }, { lr: 1e-3 }), 'InvalidInput', /batchSize/)
    await expectCode(() => model.trainStep([], { lr: 1e-3 }), 'InvalidInput', /at least one micro-batch/)
    await expectCode(() => model.trainStep(good(), { lr: Number.NaN }), 'InvalidInput', /`lr`/)
    expect(model.step).toBe(0)
  })

  it('NaN features and out-of-range ids are caught natively', async () => {
    const model = await VideoBERT.create('tiny')
    const nan = good()
    nan.videoFeatures![100] = Number.NaN
    await expectCode(() => model.trainStep(nan, { lr: 1e-3 }), 'InvalidInput', /`videoFeatures`: non-finite value NaN at index 100/)
    const ids = good()
    ids.textIds[5] = tiny.vocabSize
    await expectCode(() => model.trainStep(ids, { lr: 1e-3 }), 'InvalidInput', /`textIds`: id 512 at index 5 is not < vocab_size/)
    const mask = good()
    mask.videoMask = new Uint8Array(16).fill(2)
    await expectCode(() => model.evaluate(mask), 'InvalidInput', /`videoMask`: must be 0 or 1/)
  })

  it('bad configs name the field; unknown presets are their own code', async () => {
    await expectCode(() => VideoBERT.create('huge' as 'tiny'), 'UnknownPreset', /huge/)
    await expectCode(() => VideoBERT.create({ preset: 'tiny', hiddenSize: -64 }), 'InvalidConfig', /`hiddenSize`/)
    await expectCode(() => VideoBERT.create({ preset: 'tiny', numAttentionHeads: 3 }), 'InvalidConfig', /`numAttentionHeads`: must divide hiddenSize|`numAttentionHeads`: must divide hidden_size/)
    await expectCode(() => VideoBERT.create({ preset: 'tiny', textMaskProb: 2 }), 'InvalidConfig', /`textMaskProb`/)
    await expectCode(() => VideoBERT.create({ preset: 'tiny', colour: 1 } as never), 'InvalidConfig', /`colour`: unknown field/)
    await expectCode(() => VideoBERT.create({ preset: 'tiny', videoLoss: 'ce' }), 'InvalidConfig', /`videoLoss`/)
    await expectCode(() => VideoBERT.create('tiny', { numThreads: 0 }), 'InvalidConfig', /numThreads/)
    await expectCode(() => VideoBERT.create('tiny', { seed: -1 }), 'InvalidConfig', /seed/)
    await expectCode(() => VideoBERT.create('tiny', { optimizer: { beta1: 1.5 } }), 'InvalidConfig', /beta1/)
  })

  it('a model too large for the machine is an InvalidConfig error before anything is allocated, not an abort', async () => {
    // Issue 16: this config killed the process (`memory allocation of … bytes failed`, SIGABRT).
    await expectCode(() => VideoBERT.create({ hiddenSize: 65536, intermediateSize: 1 << 20 }), 'InvalidConfig', /`hidden_?[sS]ize`: the model would need [\d.]+ GiB .* more than the memory limit/)
    // The same from a downloaded checkpoint's config.json.
    const dir = tempDir('huge-config')
    await (await VideoBERT.create('tiny')).save(dir)
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, hidden_size: 1048576 }))
    await expectCode(() => VideoBERT.load(dir), 'InvalidConfig', /memory limit/)
  })

  it('missing and corrupt checkpoints are Checkpoint errors', async () => {
    const model = await VideoBERT.create('tiny')
    await expectCode(() => VideoBERT.load(join(tempDir('none'), 'missing')), 'Checkpoint', /not a checkpoint directory/)
    await expectCode(() => VideoBERT.load(tempDir('empty')), 'Checkpoint', /config\.json/)

    const truncated = tempDir('truncated')
    await model.save(truncated)
    const file = join(truncated, 'model.safetensors')
    writeFileSync(file, readFileSync(file).subarray(0, 1000))
    await expectCode(() => VideoBERT.load(truncated), 'Checkpoint', /model\.safetensors: corrupt safetensors/)

    // Weights of another architecture under this config: wrong shapes.
    const shapes = tempDir('shapes')
    await model.save(shapes)
    const wide = tempDir('wide')
    await (await VideoBERT.create({ preset: 'tiny', hiddenSize: 32 })).save(wide)
    copyFileSync(join(wide, 'model.safetensors'), join(shapes, 'model.safetensors'))
    await expectCode(() => VideoBERT.load(shapes), 'Checkpoint', /has shape \[\d+(, \d+)*\], the config needs/)

    // Weights with regions under a config without regions: unknown tensor names.
    const unknown = tempDir('unknown')
    await (await VideoBERT.create({ preset: 'tiny', numRegions: 0 })).save(unknown)
    copyFileSync(join(truncated, 'config.json'), join(unknown, 'config.json'))
    await expectCode(() => VideoBERT.load(unknown), 'Checkpoint', /tensor `[^`]+` missing|unknown tensor/)
    const unknown2 = tempDir('unknown2')
    await model.save(unknown2)
    const noRegions = tempDir('no-regions')
    await (await VideoBERT.create({ preset: 'tiny', numRegions: 0 })).save(noRegions)
    copyFileSync(join(noRegions, 'config.json'), join(unknown2, 'config.json'))
    await expectCode(() => VideoBERT.load(unknown2), 'Checkpoint', /unknown tensor\(s\): .*spatial/)

    const badConfig = tempDir('bad-config')
    await model.save(badConfig)
    writeFileSync(join(badConfig, 'config.json'), '{"hidden_size": 64, "colour": 1}')
    await expectCode(() => VideoBERT.load(badConfig), 'Checkpoint', /colour/)
  })

  it('an unwritable destination is an Io error; divergence is a Numerical error', async () => {
    const model = await VideoBERT.create('tiny')
    const dir = tempDir('io')
    writeFileSync(join(dir, 'file'), 'x')
    await expectCode(() => model.save(join(dir, 'file', 'ckpt')), 'Io', /file/)

    await model.trainStep(good(), { lr: 1e30, maxGradNorm: 0 })
    await expectCode(async () => {
      for (let i = 0; i < 5; i++) await model.trainStep(good(), { lr: 1e30, maxGradNorm: 0 })
    }, 'Numerical', /non-finite/)
  })

  it('anything unrecognised from native code becomes Internal; every code is known', () => {
    const e = fromNative(new Error('something odd'))
    expect(e).toBeInstanceOf(VideoBertError)
    expect(e.code).toBe('Internal')
    expect(fromNative(new Error('Checkpoint: x')).code).toBe('Checkpoint')
    const generated = readFileSync(new URL('../index.d.ts', import.meta.url), 'utf8')
    const union = /export type ErrorCode = ([^\n]+)/.exec(generated)![1]!
    expect(union.split(' | ').map((s) => s.replace(/'/g, ''))).toEqual([...ERROR_CODES])
  })
})
