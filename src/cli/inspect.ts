/** `videobert inspect PATH`: a readable summary of a checkpoint, a run, a shard set or a config. */
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

import { configFromJson, resolveConfig, type VideoBertConfig } from '../config.js'
import { VideoBertError } from '../errors.js'
import { MODEL_FILE, SHARD_INDEX_FILE, TRAINER_STATE_FILE } from '../files.js'
import { VideoBERT } from '../model.js'
import { TokenShards } from '../shards.js'
import { CheckpointManager } from '../training/checkpoints.js'

export const INSPECT_HELP = `Usage: videobert inspect PATH [--json]

PATH may be a checkpoint directory (model.safetensors + config.json), a run directory (with
checkpoints/), a token-shard directory (index.json) or a config.json.`

function describeConfig(c: VideoBertConfig): string {
  return `H=${c.hiddenSize} layers=${c.numHiddenLayers} heads=${c.numAttentionHeads} FFN=${c.intermediateSize} L=${c.maxTextLen} T=${c.maxSegments} R=${c.numRegions} F=${c.featureDim} vocab=${c.vocabSize} video=${c.videoInput}/${c.videoLoss}${c.numLabels > 0 ? ` classifier=${c.numLabels} classes on ${c.classifierPooling}` : ''}`
}

export async function inspect(path: string): Promise<{ kind: string; summary: Record<string, unknown>; text: string }> {
  if (!existsSync(path)) throw new VideoBertError('Io', `${path}: no such file or directory`)
  if (statSync(path).isFile()) {
    const config = resolveConfig({ preset: 'small', ...configFromJson(readFileSync(path, 'utf8')) })
    return { kind: 'config', summary: { config }, text: `config: ${describeConfig(config)}` }
  }
  if (existsSync(join(path, SHARD_INDEX_FILE))) {
    const s = await TokenShards.open(path)
    let segments = 0
    let captions = 0
    let seconds = 0
    for (let i = 0; i < s.length; i++) {
      const v = s.video(i)
      segments += v.numSegments
      captions += v.captions.length
      seconds += v.duration
    }
    const failures = s.failures.length
    const summary = { videos: s.length, failures, segments, captions, hours: seconds / 3600, params: s.params }
    const p = s.params
    return {
      kind: 'shards',
      summary,
      text:
        `token shards: ${s.length} videos (${failures} failed), ${segments} segments, ${captions} captions, ${(seconds / 3600).toFixed(2)} h\n` +
        `  extractor ${p.extractor}, ${p.fps} fps, ${p.framesPerSegment} frames/segment (stride ${p.stride}), grid ${p.grid} (R=${s.numRegions}), F=${p.featureDim}, ${p.dtype}` +
        `${p.codebook ? `, visual words (codebook ${p.codebook})` : ''}`,
    }
  }
  if (existsSync(join(path, 'checkpoints'))) {
    const ckpts = new CheckpointManager(join(path, 'checkpoints')).list()
    const latest = ckpts.at(-1)
    const state = latest ? new CheckpointManager(join(path, 'checkpoints')).readState(latest.path) : null
    return {
      kind: 'run',
      summary: { checkpoints: ckpts.map((c) => c.step), latest: latest?.path ?? null, state },
      text: `run: checkpoints at steps ${ckpts.map((c) => c.step).join(', ') || '(none)'}; latest ${latest?.path ?? '-'}${state?.best ? `; best ${state.best.value.toFixed(4)} at step ${state.best.step}` : ''}`,
    }
  }
  if (existsSync(join(path, MODEL_FILE))) {
    const m = await VideoBERT.load(path)
    const statePath = join(path, TRAINER_STATE_FILE)
    const state = existsSync(statePath) ? JSON.parse(readFileSync(statePath, 'utf8')) : null
    return {
      kind: 'checkpoint',
      summary: { config: m.config, numParameters: m.numParameters, step: m.step, trainerState: state },
      text: `checkpoint: ${m.numParameters.toLocaleString('en-US')} parameters, optimizer step ${m.step}\n  ${describeConfig(m.config)}`,
    }
  }
  throw new VideoBertError('InvalidInput', `${path}: not a checkpoint, run, shard directory or config file`)
}
