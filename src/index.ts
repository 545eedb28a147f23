/**
 * videobert-native: VideoBERT pre-training for Node.js with a Rust (candle) core.
 *
 * ```ts
 * import { VideoBERT, presets } from 'videobert-native'
 * const model = await VideoBERT.create('tiny', { seed: 1 })
 * const { loss } = await model.trainStep(batch, { lr: 1e-3 })
 * ```
 */
export { VideoBERT, type CreateOptions, type Device, type StepOptions, type EvaluateOptions, type StepResult, type MaskPrediction, type Embeddings, type ClassifierOptions, type CaptionerOptions, type GenerateOptions, type GeneratedCaption } from './model.js'
export { VideoBertError, type ErrorCode } from './errors.js'
export { ERROR_CODES, cudaBuilt, type NativeBatch } from './native.js'
export {
  presets,
  resolveConfig,
  checkpointConfig,
  configFromJson,
  configToJson,
  PRESET_NAMES,
  type PresetName,
  type VideoBertConfig,
  type ConfigInput,
} from './config.js'
export { checkBatch, type Batch } from './batch.js'
export { randomBatch, type RandomBatchOptions } from './random-batch.js'
export {
  VideoTokenizer,
  type VideoTokenizerEvents,
  computeBuiltinFeatures,
  tokenizeOptionsOf,
  TOKENIZE_DEFAULTS,
  type FramesOptions,
  type TokenizeOptions,
  type TokenizedVideo,
  type NativeTokenizedVideo,
  type NativeTokenizeDefaults,
  type ManifestRunOptions,
  type TokenizeProgress,
  type TokenizeSummary,
  type TokenizeFailure,
} from './video-tokenizer.js'
export { TokenShards, type VideoRecord, type CaptionSpan, type ShardParams } from './shards.js'
export { checkShardSet, mergeShardSets, arrayJobPart, type ShardSetStatus, type ArrayJobPart } from './shard-set.js'
export { Codebook, fitCodebookOnShards, assignCodebookToShards, type CodebookOptions, type CodebookInfo } from './codebook.js'
export { TextTokenizer, trainVocabulary, type VocabOptions, type VocabSummary, type NativeVocabSummary, type NativeSkippedVideo } from './vocab.js'
export {
  ALIGN_DEFAULTS,
  buildManifest,
  readSubtitles,
  subtitleTracks,
  type AlignOptions,
  type AlignReport,
  type ManifestBuildOptions,
  type ManifestReport,
  type SubtitleTrack,
  type TimedCaption,
  type NativeAlignReport,
  type NativeCaption,
  type NativeManifestReport,
  type NativePairedVideo,
  type NativeSubtitleTrack,
  type NativeUnreadableSubtitles,
} from './subtitles.js'
export { videoFormats, formatsMarkdown, type VideoFormats, type VideoFormat, type LeftOutFormat } from './formats.js'
export { writeVideo, type WriteVideoOptions, type WrittenVideo } from './video-writer.js'
export { VideoTextDataset, type DatasetOptions, type Window, type Split } from './data/dataset.js'
export { fitFeatureNorm, applyFeatureNorm, loadFeatureNorm, saveFeatureNorm, type FeatureNorm } from './data/feature-norm.js'
export { collate, windowsOf, captionWindowsOf, type VideoWindow, type BatchItem } from './data/windows.js'
export * from './files.js'
export {
  textToVideoRetrieval,
  retrieve,
  wordProfiles,
  chanceRecall,
  type RetrievalMetrics,
  type RetrievalOptions,
  type RetrievalResult,
  type RankedList,
  type Direction,
  type Scorer,
  type RetrievalSet,
  RETRIEVAL_DEFAULTS,
  RECALL_KS,
} from './eval/retrieval.js'
export { classificationReport, evaluateClassifier, type ClassificationReport, type ClassReport } from './eval/classification.js'
export { evaluateCaptions, scoreSplitCaptions, type CaptionEvaluation, type CaptionMetrics, type CaptionScoreReport } from './eval/captioning.js'
export { bleu, ciderD, rougeL, scoreCaptions, tokenizeCaption, type BleuScores, type CaptionScores, type MeanScores } from './eval/caption-metrics.js'
export { meteor, meteorTokens, type MeteorScores } from './eval/meteor.js'
export { porter2 } from './eval/porter2.js'
export { LabelledDataset, readLabelFile, labelOf, type LabelledDatasetOptions, type LabelSource } from './data/labelled.js'
export { embedVideos, embedTexts, EMBED_DEFAULTS, type VideoEmbedding, type EmbedOptions } from './inference/embed.js'
export { captionVideos, CAPTION_DEFAULTS, SUPERVISED_DEFAULTS, type Caption, type CaptionOptions, type VideoFeatures } from './inference/caption.js'
export { classifyVideos, type ClassPrediction } from './inference/classify.js'
export { answerQuestions, type Answer, type QuestionInput } from './inference/answer.js'
export { QuestionDataset, questionsOf, encodeQuestion, encodeChoices, QUESTIONS_FIELD, type VideoQuestion, type QuestionSample, type QuestionDatasetOptions, type QAFormat } from './data/questions.js'
export { evaluateQA, type QAReport, type QuestionTypeReport, type EvaluateQAOptions } from './eval/qa.js'
export { finetuneQA, type FinetuneQAOptions, type FinetuneQAResult } from './training/finetune-qa.js'
export { CaptionDataset } from './data/captions.js'
export { finetuneCaptioner, CAPTION_FINETUNE_DEFAULTS, type FinetuneCaptionOptions, type FinetuneCaptionResult } from './training/finetune-caption.js'
export { finetuneClassifier, trainTask, FINETUNE_DEFAULTS, type ClassifierPooling, type FinetuneOptions, type FinetuneResult, type HeadOptions } from './training/finetune.js'
export { pretrain, PRESET_TRAINING, PRETRAIN_DEFAULTS, type PretrainOptions, type PretrainResult } from './training/pretrain.js'
export { Pretrained, loadPretrained, type TimeRange, type VideoSource } from './pretrained.js'
export { evaluateMoments, momentsOf, retrieveMoments, shardMoments, timeRange, MOMENT_DEFAULTS, type Moment, type MomentMetrics, type MomentOptions, type TimedTokens } from './inference/moments.js'
export { videoInput, videoWindows, windowBatch, shardVideo, type InferenceContext, type VideoTokens } from './inference/context.js'
export { fillMask, encodePrompt, encodePromptWith, MASK, FILL_MASK_DEFAULTS, type FillMaskOptions, type FillMaskBlank } from './inference/fill-mask.js'
export { fillInTheBlank, type BlankMetrics, type FillInTheBlankOptions } from './eval/fill-in-the-blank.js'
export { startDistributed, distributedLaunch, distributedFor, partRange, takePart, DISTRIBUTED_DEFAULTS, type Distributed, type DistributedOptions, type DataPart } from './distributed.js'
export { Trainer, type TrainerOptions, type TrainerCallbacks, type FitResult, type TrainingData, type DataCommon, type ValidationMetrics } from './training/trainer.js'
export { HealthMonitor, type HealthOptions, type HealthWarning, type LossName } from './training/health.js'
export { CheckpointManager, type TrainerState, type CheckpointOptions } from './training/checkpoints.js'
export { layerRatesAt, learningRate, type LayerRateOptions, type ScheduleOptions } from './training/schedule.js'
