/**
 * `videobert` — the command line. Each command prints one clear line on error and exits non-zero;
 * `--json` prints a machine-readable summary on stdout; progress goes to stderr.
 *
 * Exit codes: 0 success; 1 error (bad arguments, unreadable input, …); 2 `tokenize` finished but
 * some videos failed (listed in OUT/failures.jsonl); 130 interrupted (re-run to resume).
 */
import { VideoBertError } from '../errors.js'
import { optionalInt, optionalNonNegative, optionalPositive, optionalPositiveInt, parseCommand } from './args.js'
import { assignCodebookToShards, fitCodebookOnShards } from '../codebook.js'
import { trainVocabulary } from '../vocab.js'
import { TOKENIZE_DEFAULTS as T, VideoTokenizer, type TokenizeOptions, type TokenizeProgress } from '../video-tokenizer.js'
import { bar, duration, ProgressLine } from '../progress.js'
import { inspect, INSPECT_HELP } from './inspect.js'
import { pretrainCommand, PRETRAIN_HELP } from './pretrain.js'
import { demo, DEMO_HELP } from './demo.js'
import { FILL_MASK_HELP, fillMaskCommand } from './fill-mask.js'
import { EMBED_HELP, embedCommand } from './embed.js'
import { RETRIEVE_HELP, retrieveCommand } from './retrieve.js'
import { CAPTION_HELP, captionCommand } from './caption.js'
import { CLASSIFY_HELP, FINETUNE_HELP, classifyCommand, finetuneCommand } from './classify.js'
import { ANSWER_HELP, answerCommand } from './qa.js'
import { formatsText, videoFormats } from '../formats.js'
import { ALIGN_DEFAULTS } from '../subtitles.js'
import { MANIFEST_HELP, manifestCommand, subtitleLine } from './manifest.js'
import { SHARDS_HELP, shardsCommand } from './shards.js'
import { arrayJobPart } from '../shard-set.js'

const HELP = `videobert — VideoBERT pre-training from Node.js

Usage: videobert <command> [options]

Commands:
  demo       the whole pipeline on a synthetic captioned set, evaluated on held-out clips
  manifest   pair a folder of videos with their subtitles/transcripts → a manifest (JSONL)
  tokenize   videos (a manifest, files or directories) → token shards
  shards     check | merge a corpus tokenized in parts (array jobs)
  codebook   fit | assign visual words (hierarchical k-means)
  vocab      train a WordPiece vocabulary from a manifest's captions
  pretrain   token shards + vocabulary → a pre-trained checkpoint
  inspect    summarise a checkpoint, run, shard set or config
  formats    the containers and video codecs this build decodes
  fill-mask  predict the [MASK] words of a prompt from a video (zero-shot)
  embed      video and text embeddings → JSONL or safetensors
  retrieve   text→video / video→text ranking over a tokenized set, with Recall@k
  caption    write captions for videos (the fine-tuned decoder, or iterative masked decoding)
  finetune   fine-tune on a pre-trained checkpoint: a classifier (--task classify), video QA (--task qa) or a caption decoder (--task caption)
  classify   classify videos with a fine-tuned checkpoint (or report its accuracy)
  answer     answer a question about a video with a fine-tuned QA checkpoint (or report its accuracy)

Run 'videobert <command> --help' for a command's options.`

const HELPS: Record<string, string> = {
  pretrain: PRETRAIN_HELP,
  demo: DEMO_HELP,
  'fill-mask': FILL_MASK_HELP,
  embed: EMBED_HELP,
  retrieve: RETRIEVE_HELP,
  caption: CAPTION_HELP,
  finetune: FINETUNE_HELP,
  classify: CLASSIFY_HELP,
  answer: ANSWER_HELP,
  inspect: INSPECT_HELP,
  manifest: MANIFEST_HELP,
  shards: SHARDS_HELP,
  formats: `Usage: videobert formats [--json]

Lists what the addon's own FFmpeg decodes, asked of FFmpeg itself: its version and licence, every
container (demuxer) with its usual file extensions, every video codec, and the formats left out of
the build on purpose with the message a file in one of them gets. --json prints the same as one
JSON object ({ ffmpegVersion, configuration, license, containers, videoCodecs, leftOut }).`,
  tokenize: `Usage: videobert tokenize <manifest.jsonl|manifest.csv|files/dirs...> --out DIR [options]

Decodes every video, samples frames by timestamp, cuts segments, computes features and writes token
shards (safetensors + JSON index) to DIR. Re-running with the same options resumes: finished shards
are skipped. A bad video is reported (summary and DIR/failures.jsonl) and the run goes on.

Options:
  --out DIR                 output directory (required)
  --fps N                   frames sampled per second (default ${T.fps})
  --frames-per-segment N    frames per segment = one video token (default ${T.framesPerSegment})
  --stride N                frames between segment starts (default = frames per segment)
  --pad-last                keep the last partial segment instead of dropping it
  --pool mean|max           temporal pooling within a segment (default ${T.pool})
  --grid N                  regions per side, R = N² (default ${T.grid})
  --feature-dim N           feature size F (default: the builtin descriptor's own, ${T.featureDim} for
                            builtin, 68 for builtin_v2; another size is a fixed random projection)
  --frame-size N            side of the square frame the extractor sees (default ${T.frameSize})
  --extractor NAME          builtin (default, no weights: colour, edges and motion per region);
                            builtin_v2 (the same and a glimpse of the moving object's shape:
                            which object it is); mobilenet_v2, efficientnet_lite0, resnet or
                            clip (a pretrained network, from --weights); backbone (whichever
                            network --weights holds)
  --weights FILE            the network's weights as distributed: PyTorch .pth (zip or legacy) or
                            safetensors — torchvision's MobileNetV2 / ResNet names,
                            efficientnet_pytorch's EfficientNet-Lite0, or a CLIP vision tower's
                            (Hugging Face / open_clip names; docs/backbones.md). --backbone-weights
                            is the same flag
  --backbone-input N        ResNet input side per grid cell (default ${T.backboneInput}); MobileNetV2's and
                            EfficientNet-Lite0's frame side (default 224)
  --max-duration SECONDS    longest video accepted; longer ones fail with a Decode error
                            (default ${T.maxDuration}, 4 hours)
  --codebook FILE           also store visual-word ids from this codebook
  --caption-words N         subtitle files → captions: the most words of one caption; longer cues
                            are split, short ones merged (default ${ALIGN_DEFAULTS.captionWords}; docs/subtitles.md)
  --caption-gap SECONDS     the longest silence inside one merged caption (default ${ALIGN_DEFAULTS.captionGap})
  --workers N               videos decoded at once (default: all cores)
  --shard i/n               process part i of n: the chunks c with c mod n = i (default: the part
                            of an array job — SLURM_ARRAY_TASK_ID of SLURM_ARRAY_TASK_COUNT, or a
                            Kubernetes Indexed Job's JOB_COMPLETION_INDEX of --shard-count; else
                            all; --shard 0/1 in an array job whose every task wants everything).
                            Parts may share --out; 'videobert shards check' confirms the set
  --shard-count N           parts in all, for a Kubernetes Indexed Job (its completions)
  --videos-per-shard N      videos per shard file (default ${T.videosPerShard})
  --dtype f16|f32           feature storage (default ${T.dtype})
  --json                    print the summary as JSON on stdout
Exit codes: 0 all videos tokenized, 2 some failed (see failures.jsonl), 1 error, 130 interrupted.`,
  codebook: `Usage: videobert codebook fit --data SHARDS --out codebook.safetensors [options]
       videobert codebook assign --data SHARDS --codebook codebook.safetensors

fit: hierarchical k-means on (a sample of) the shards' segment features.
  --branching N   children per node (default ${T.branching})
  --depth N       levels (default ${T.depth}: ${T.branching}^${T.depth} = ${(T.branching ** T.depth).toLocaleString('en-US')} words)
  --iterations N  Lloyd iterations per node (default ${T.iterations})
  --sample N      segments sampled for fitting (default ${T.sample})
  --raw           fit on the raw features; by default they are standardised per dimension
                  (mean and std stored in the codebook, applied when assigning) so that no
                  feature dominates the distances by its scale alone
  --seed N        (default 0)
assign: add visual-word ids to every segment of SHARDS, in place (idempotent).
  --json          print the result as JSON on stdout`,
  vocab: `Usage: videobert vocab --manifest FILE --out tokenizer.json [options]

Trains a BERT-style WordPiece vocabulary on the manifest's captions ([PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4).
  --vocab-size N      upper bound; pieces the captions never use are dropped (default ${T.vocabSize})
  --min-frequency N   (default ${T.minFrequency})
  --no-lowercase      keep case and accents
  --json              print the result as JSON on stdout`,
}

/** A command-line mistake: exit code 1 and one line naming the flag. */
const usage = (message: string) => new VideoBertError('InvalidConfig', message)

async function tokenize(args: string[], signal: AbortSignal): Promise<number> {
  const s = { type: 'string' } as const
  const { values: v, positionals } = parseCommand(args, {
    out: s, fps: s, 'frames-per-segment': s, stride: s, 'pad-last': { type: 'boolean' }, pool: s, grid: s, 'feature-dim': s,
    'frame-size': s, extractor: s, weights: s, 'backbone-weights': s, 'backbone-input': s, 'max-duration': s, codebook: s, workers: s, shard: s, 'shard-count': s, 'videos-per-shard': s, dtype: s,
    'caption-words': s, 'caption-gap': s,
  })
  if (v.help) return help('tokenize')
  if (!v.out) throw usage('tokenize: --out DIR is required')
  if (positionals.length === 0) throw usage('tokenize: give a manifest (.jsonl/.csv) or video files/directories')
  // --extractor, --pool and --dtype are checked once, where they are defined (the tokenizer's
  // options in the binding), before any video is read; this line only names the flag to add.
  if (v.weights !== undefined && v['backbone-weights'] !== undefined) throw usage('--weights and --backbone-weights are the same flag: give one')
  const weights = (v.weights ?? v['backbone-weights']) as string | undefined
  if (['backbone', 'mobilenet_v2', 'efficientnet_lite0', 'resnet', 'clip'].includes(v.extractor as string) && weights === undefined) throw usage(`--extractor ${String(v.extractor)} needs --weights FILE`)
  const tokenizer = new VideoTokenizer({
    fps: optionalPositive(v.fps, 'fps'),
    framesPerSegment: optionalInt(v['frames-per-segment'], 'frames-per-segment'),
    stride: optionalInt(v.stride, 'stride'),
    padLast: v['pad-last'] as boolean | undefined,
    pool: v.pool as 'mean' | 'max' | undefined,
    grid: optionalInt(v.grid, 'grid'),
    featureDim: optionalInt(v['feature-dim'], 'feature-dim'),
    frameSize: optionalInt(v['frame-size'], 'frame-size'),
    extractor: v.extractor as TokenizeOptions['extractor'],
    backboneWeights: weights,
    backboneInput: optionalInt(v['backbone-input'], 'backbone-input'),
    maxDuration: optionalPositive(v['max-duration'], 'max-duration'),
  })
  const isManifest = positionals.length === 1 && /\.(jsonl|json|csv)$/i.test(positionals[0]!)
  const shardCount = optionalPositiveInt(v['shard-count'], 'shard-count')
  if (v.shard !== undefined && shardCount !== undefined) throw usage('--shard i/n already says the count: drop --shard-count')
  const job = v.shard === undefined ? arrayJobPart(process.env, shardCount) : null
  if (job) process.stderr.write(`tokenize: part ${job.part}/${job.parts} (${job.source})\n`)
  const line = new ProgressLine()
  const show = (p: TokenizeProgress, force = false) => {
    const fps = p.seconds > 0 ? p.decodedFrames / p.seconds : 0
    const fresh = p.videosDone - p.videosSkipped
    const eta = fresh > 0 ? ((p.videosTotal - p.videosDone) * p.seconds) / fresh : Number.NaN
    line.update(
      `${bar(p.videosTotal ? p.videosDone / p.videosTotal : 1)} ${p.videosDone}/${p.videosTotal} videos` +
        `${p.videosSkipped ? ` (${p.videosSkipped} resumed)` : ''}${p.videosFailed ? ` · ${p.videosFailed} failed` : ''}` +
        ` · ${p.segments} segments · ${fps.toFixed(0)} decoded frames/s · ETA ${duration(eta)}`,
      force,
    )
  }
  const summary = await tokenizer.tokenizeManifest(isManifest ? positionals[0]! : positionals, {
    out: v.out as string,
    workers: optionalInt(v.workers, 'workers'),
    shard: job ? [job.part, job.parts] : (v.shard as string | undefined),
    videosPerShard: optionalInt(v['videos-per-shard'], 'videos-per-shard'),
    dtype: v.dtype as 'f16' | 'f32' | undefined,
    codebook: v.codebook as string | undefined,
    captionWords: optionalInt(v['caption-words'], 'caption-words'),
    captionGap: optionalNonNegative(v['caption-gap'], 'caption-gap'),
    signal,
    onProgress: (p) => show(p),
  })
  show(summary.progress, true)
  line.done()
  const p = summary.progress
  if (v.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`)
  } else {
    process.stderr.write(
      `tokenized ${p.videosDone - p.videosFailed - p.videosSkipped} videos (${p.videosSkipped} already done, ${summary.failures.length} failed): ` +
        `${p.segments} segments, ${p.decodedFrames} decoded / ${p.frames} sampled frames in ${p.seconds.toFixed(1)} s → ${summary.out}\n`,
    )
    const st = summary.subtitles
    if (st.cues > 0) process.stderr.write(`subtitles: ${subtitleLine(st)}\n`)
    for (const f of summary.failures.slice(0, 20)) process.stderr.write(`  failed: ${f.path}: ${f.code}: ${f.message}\n`)
    if (summary.failures.length > 20) process.stderr.write(`  … and ${summary.failures.length - 20} more in failures.jsonl\n`)
  }
  return summary.failures.length > 0 ? 2 : 0
}

async function codebook(args: string[]): Promise<number> {
  const s = { type: 'string' } as const
  const [sub, ...rest] = args
  const { values: v } = parseCommand(rest, { data: s, out: s, codebook: s, branching: s, depth: s, iterations: s, sample: s, seed: s, raw: { type: 'boolean' } })
  if (v.help || sub === '--help' || sub === '-h' || sub === undefined) return help('codebook')
  if (!v.data) throw usage(`codebook ${sub}: --data SHARDS is required`)
  if (sub === 'fit') {
    if (!v.out) throw usage('codebook fit: --out FILE is required')
    const info = await fitCodebookOnShards(v.data as string, v.out as string, {
      branching: optionalInt(v.branching, 'branching'),
      depth: optionalInt(v.depth, 'depth'),
      iterations: optionalInt(v.iterations, 'iterations'),
      sample: optionalInt(v.sample, 'sample'),
      seed: optionalInt(v.seed, 'seed'),
      standardize: v.raw ? false : undefined,
    })
    if (v.json) process.stdout.write(`${JSON.stringify(info)}\n`)
    else process.stderr.write(`codebook: ${info.words} words of dim ${info.dim}, fitted on ${info.fittedOn} segments → ${String(v.out)}\n`)
    return 0
  }
  if (sub === 'assign') {
    if (!v.codebook) throw usage('codebook assign: --codebook FILE is required')
    const n = await assignCodebookToShards(v.data as string, v.codebook as string)
    if (v.json) process.stdout.write(`${JSON.stringify({ segments: n })}\n`)
    else process.stderr.write(`assigned visual words to ${n} segments in ${String(v.data)}\n`)
    return 0
  }
  throw usage(`codebook: unknown subcommand '${sub}' (expected fit or assign)`)
}

async function vocab(args: string[]): Promise<number> {
  const s = { type: 'string' } as const
  const { values: v } = parseCommand(args, { manifest: s, out: s, 'vocab-size': s, 'min-frequency': s, 'no-lowercase': { type: 'boolean' } })
  if (v.help) return help('vocab')
  if (!v.manifest || !v.out) throw usage('vocab: --manifest FILE and --out FILE are required')
  const r = await trainVocabulary(v.manifest as string, v.out as string, {
    vocabSize: optionalInt(v['vocab-size'], 'vocab-size'),
    minFrequency: optionalInt(v['min-frequency'], 'min-frequency'),
    lowercase: !v['no-lowercase'],
  })
  if (v.json) process.stdout.write(`${JSON.stringify({ vocabSize: r.size, captions: r.captions, skipped: r.skipped, out: v.out })}\n`)
  else {
    process.stderr.write(`vocabulary: ${r.size} tokens from ${r.captions} captions → ${String(v.out)}\n`)
    for (const s of r.skipped) process.stderr.write(`  left out: ${s.id}: ${s.code}: ${s.message}\n`)
  }
  return 0
}

function help(command?: string): number {
  process.stdout.write(`${command ? HELPS[command] : HELP}\n`)
  return 0
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  const controller = new AbortController()
  const onSigint = () => {
    process.stderr.write('\ninterrupting… (finished shards are kept; re-run the same command to resume)\n')
    controller.abort()
  }
  process.once('SIGINT', onSigint)
  try {
    switch (command) {
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        return help()
      case 'tokenize':
        return await tokenize(rest, controller.signal)
      case 'codebook':
        return await codebook(rest)
      case 'vocab':
        return await vocab(rest)
      case 'manifest':
        return await manifestCommand(rest)
      case 'shards':
        return await shardsCommand(rest)
      case 'pretrain':
        return await pretrainCommand(rest, controller.signal)
      case 'demo':
        return await demo(rest, controller.signal)
      case 'fill-mask':
        return await fillMaskCommand(rest)
      case 'embed':
        return await embedCommand(rest)
      case 'retrieve':
        return await retrieveCommand(rest)
      case 'caption':
        return await captionCommand(rest)
      case 'finetune':
        return await finetuneCommand(rest, controller.signal)
      case 'classify':
        return await classifyCommand(rest)
      case 'answer':
        return await answerCommand(rest)
      case 'inspect': {
        const { values: v, positionals } = parseCommand(rest, {})
        if (v.help) return help('inspect')
        if (positionals.length !== 1) throw usage('inspect: give one PATH')
        const r = await inspect(positionals[0]!)
        process.stdout.write(v.json ? `${JSON.stringify({ kind: r.kind, ...r.summary })}\n` : `${r.text}\n`)
        return 0
      }
      case 'formats': {
        const { values: v, positionals } = parseCommand(rest, {})
        if (v.help) return help('formats')
        if (positionals.length > 0) throw usage('formats: takes no arguments')
        const f = videoFormats()
        process.stdout.write(v.json ? `${JSON.stringify(f)}\n` : `${formatsText(f)}\n`)
        return 0
      }
      default:
        throw usage(`unknown command '${command}' (run 'videobert --help')`)
    }
  } catch (err) {
    if (err instanceof VideoBertError && err.code === 'Cancelled') {
      process.stderr.write('videobert: interrupted\n')
      return 130
    }
    const msg = err instanceof VideoBertError ? `${err.code}: ${err.message}` : (err as Error).message
    process.stderr.write(`videobert: ${msg}\n`)
    return 1
  } finally {
    process.removeListener('SIGINT', onSigint)
  }
}

