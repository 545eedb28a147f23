/**
 * videobert-native: VideoBERT pre-training for Node.js with a Rust (candle) core.
 *
 * ```ts
 * import { VideoBERT, presets } from 'videobert-native'
 * const model = await VideoBERT.create('tiny', { seed: 1 })
 * const { loss } = await model.trainStep(batch, { lr: 1e-3 })
 * ```
 */
export { VideoBERT, type CreateOptions, type StepOptions, type EvaluateOptions, type StepResult, type MaskPrediction, type Embeddings, type ClassifierOptions } from './model.js'
export { VideoBertError, ERROR_CODES, type ErrorCode } from './errors.js'
export {
  presets,
  resolveConfig,
  configFromJson,
  configToJson,
  PRESET_NAMES,
  type PresetName,
  type VideoBertConfig,
  type ConfigInput,
} from './config.js'
export { checkBatch, type Batch } from './batch.js'
export { randomBatch } from './random-batch.js'
export {
  VideoTokenizer,
  computeBuiltinFeatures,
  type FramesOptions,
  type TokenizeOptions,
  type TokenizedVideo,
  type ManifestRunOptions,
  type TokenizeProgress,
  type TokenizeSummary,
  type TokenizeFailure,
} from './tokenizer.js'
export {
  TokenShards,
  Codebook,
  TextTokenizer,
  fitCodebookOnShards,
  assignCodebookToShards,
  trainVocabulary,
  type VideoRecord,
  type CaptionSpan,
  type ShardParams,
  type CodebookOptions,
  type VocabOptions,
} from './shards.js'
export { VideoTextDataset, type DatasetOptions, type Window, type Split } from './data/dataset.js'
export { fitFeatureNorm, applyFeatureNorm, loadFeatureNorm, saveFeatureNorm, FEATURE_NORM_FILE, type FeatureNorm } from './data/feature-norm.js'
export { textToVideoRetrieval, chanceRecall, type RetrievalMetrics, type RetrievalOptions } from './eval/retrieval.js'
export { loadPretrained, videoInput, tokenizeOptionsOf, VIDEO_TOKENIZER_FILE, type Pretrained } from './inference/pretrained.js'
export { fillMask, encodePrompt, MASK, type FillMaskOptions, type FillMaskBlank } from './inference/fill-mask.js'
export { fillInTheBlank, type BlankMetrics, type FillInTheBlankOptions } from './eval/fill-in-the-blank.js'
export { Trainer, type TrainerOptions, type TrainerCallbacks, type FitResult } from './training/trainer.js'
export { CheckpointManager, type TrainerState, type CheckpointOptions } from './training/checkpoints.js'
export { learningRate, type ScheduleOptions } from './training/schedule.js'
