/**
 * The names of the files in checkpoint and run directories, in one place. Written by the native
 * `save` (model, optimizer, config), the Trainer and the fine-tuning; read by `loadPretrained`,
 * `inspect` and the checkpoint manager.
 */
import { checkpointFileNames } from './native.js'

const native = checkpointFileNames()
/** Parameters by name (safetensors): the interop contract (docs/model.md, "Checkpoint format and tensor names"). Named by the native `save`. */
export const MODEL_FILE = native.model
/** AdamW moments, step and seed (safetensors). Named by the native `save`. */
export const OPTIMIZER_FILE = native.optimizer
/** The model config, snake_case. Named by the native `save`. */
export const CONFIG_FILE = native.config
/** The text vocabulary (Hugging Face tokenizers JSON). */
export const TOKENIZER_FILE = 'tokenizer.json'
/** Per-dimension feature standardisation fitted on the training videos. */
export const FEATURE_NORM_FILE = 'feature_norm.json'
/** How the training videos were tokenized (new videos are tokenized the same way). */
export const VIDEO_TOKENIZER_FILE = 'video_tokenizer.json'
/**
 * The visual-word codebook (hierarchical k-means, safetensors): copied into a shard directory by
 * `codebook assign` / `tokenize --codebook`, and into the checkpoints of a model that reads visual
 * words, so new videos get the same words.
 */
export const CODEBOOK_FILE = 'codebook.safetensors'
/** A fine-tuned classifier's class names (and its prompt). */
export const CLASSES_FILE = 'classes.json'
/** The Trainer's position: step, data position, best metric. */
export const TRAINER_STATE_FILE = 'trainer_state.json'
/** One JSON object per logged step and validation, in the run directory. */
export const METRICS_FILE = 'metrics.jsonl'
/** Train and validation losses as an inline SVG, in the run directory. */
export const LOSS_CURVE_FILE = 'loss-curve.html'
/** A token-shard directory's index (parameters and their hash), written by the native tokenizer. */
export const SHARD_INDEX_FILE = 'index.json'
