#!/usr/bin/env node
// Make the format matrix's fixtures (__test__/fixtures/formats/) and their reference frames, once,
// with Debian 12's `ffmpeg` CLI (apt-get install ffmpeg). The files are committed; tests and CI do
// not run this script, so they need no FFmpeg command line.
//
//   node scripts/make-format-fixtures.mjs [OUT_DIR]
//
// Every clip is FFmpeg's testsrc2 (a moving pattern over colour bars, a frame counter) at 48×32,
// 25 fps, 0.4 s = 10 frames, unless its format needs otherwise (DV is 720×480 by definition, DNxHR
// at least 256×120). reference.json holds, per fixture, what Debian's FFmpeg decodes, read the way
// the tokenizer reads a video: frames sampled at 10 fps by sample-and-hold on their presentation
// timestamps (sample k, at k / 10 s after the first frame, is the last frame whose timestamp is
// ≤ k / 10; samples run while k / 10 < the duration, first frame's start to last frame's end), each
// scaled to 16×12 packed RGB24 with FFmpeg's area filter. `__test__/formats.spec.ts` and
// crates/videobert-video/tests/formats.rs decode the same files with the addon's own FFmpeg and
// compare.
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync, readdirSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const out = resolve(process.argv[2] ?? join(root, '__test__/fixtures/formats'))
const FPS = 10
const [W, H] = [16, 12]

const ff = (...args) => execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { cwd: out, maxBuffer: 1 << 28 })
const src = (size = '48x32', rate = 25, duration = 0.4) => ['-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${rate}:duration=${duration}`]

// name, file, how to make it, and whether the tokenizer must read it ('ok') or refuse it by name
// (the expected error's first words).
const FIXTURES = [
  // MPEG-1/2 in their many wrappers (DVD, broadcast, camcorders, old tools)
  ['MPEG-2 program stream', 'mpeg2-ps.mpg', () => ff(...src(), '-c:v', 'mpeg2video', '-f', 'mpeg', 'mpeg2-ps.mpg')],
  ['DVD VOB', 'dvd.vob', () => ff(...src(), '-c:v', 'mpeg2video', '-f', 'vob', 'dvd.vob')],
  ['MPEG-1 elementary stream', 'mpeg1-es.mpv', () => ff(...src(), '-c:v', 'mpeg1video', '-f', 'mpeg1video', 'mpeg1-es.mpv')],
  ['MPEG-2 elementary stream', 'mpeg2-es.m2v', () => ff(...src(), '-c:v', 'mpeg2video', '-f', 'mpeg2video', 'mpeg2-es.m2v')],
  ['MPEG-2 in MXF', 'mpeg2.mxf', () => ff(...src(), '-c:v', 'mpeg2video', '-f', 'mxf', 'mpeg2.mxf')],
  // Phones and cameras tag HD video BT.709: its colours are converted with BT.709's matrix, as players do
  ['H.264 tagged BT.709 (MP4)', 'h264-bt709.mp4', () => ff(...src(), '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-colorspace', 'bt709', '-color_primaries', 'bt709', '-color_trc', 'bt709', 'h264-bt709.mp4')],
  ['H.264 full range (MP4)', 'h264-full-range.mp4', () => ff(...src(), '-c:v', 'libx264', '-pix_fmt', 'yuvj420p', 'h264-full-range.mp4')],
  // Editing and camera intermediates
  ['ProRes 422 Proxy', 'prores.mov', () => ff(...src(), '-c:v', 'prores_ks', '-profile:v', '0', 'prores.mov')],
  ['ProRes 4444 (alpha)', 'prores4444.mov', () => ff(...src(), '-vf', 'format=yuva444p10le', '-c:v', 'prores_ks', '-profile:v', '4', 'prores4444.mov')],
  ['DNxHR LB in MOV', 'dnxhr.mov', () => ff(...src('256x120', 25, 0.12), '-c:v', 'dnxhd', '-profile:v', 'dnxhr_lb', '-pix_fmt', 'yuv422p', 'dnxhr.mov')],
  ['DNxHR LB in MXF', 'dnxhr.mxf', () => ff(...src('256x120', 25, 0.12), '-c:v', 'dnxhd', '-profile:v', 'dnxhr_lb', '-pix_fmt', 'yuv422p', '-f', 'mxf', 'dnxhr.mxf')],
  ['DV (NTSC)', 'ntsc.dv', () => ff(...src('720x480', '30000/1001', 0.1), '-frames:v', '2', '-c:v', 'dvvideo', '-pix_fmt', 'yuv411p', 'ntsc.dv')],
  // Windows Media and friends
  ['WMV 7 (ASF)', 'wmv1.wmv', () => ff(...src(), '-c:v', 'wmv1', 'wmv1.wmv')],
  ['WMV 8 (ASF)', 'wmv2.wmv', () => ff(...src(), '-c:v', 'wmv2', 'wmv2.wmv')],
  ['MS-MPEG4 v2 (AVI)', 'msmpeg4v2.avi', () => ff(...src(), '-c:v', 'msmpeg4v2', 'msmpeg4v2.avi')],
  ['MS-MPEG4 v3 / DivX 3 (AVI)', 'msmpeg4v3.avi', () => ff(...src(), '-c:v', 'msmpeg4', 'msmpeg4v3.avi')],
  ['MPEG-4 Part 2 in ASF', 'mpeg4.asf', () => ff(...src(), '-c:v', 'mpeg4', '-f', 'asf', 'mpeg4.asf')],
  // Flash, RealMedia
  ['Sorenson H.263 (FLV)', 'sorenson.flv', () => ff(...src(), '-c:v', 'flv', 'sorenson.flv')],
  ['Flash Screen Video (FLV)', 'flashsv.flv', () => ff(...src(), '-c:v', 'flashsv', 'flashsv.flv')],
  ['RealVideo 2 (RM)', 'rv20.rm', () => ff(...src(), '-c:v', 'rv20', 'rv20.rm')],
  // QuickTime / AVI era
  ['Cinepak (MOV)', 'cinepak.mov', () => ff(...src(), '-c:v', 'cinepak', 'cinepak.mov')],
  ['QuickTime Animation (MOV)', 'qtrle.mov', () => ff(...src(), '-c:v', 'qtrle', 'qtrle.mov')],
  ['QuickTime Road Pizza (MOV)', 'rpza.mov', () => ff(...src('64x48'), '-c:v', 'rpza', '-pix_fmt', 'rgb555le', 'rpza.mov')],
  ['QuickTime Graphics (MOV)', 'smc.mov', () => ff(...src(), '-c:v', 'smc', '-pix_fmt', 'pal8', 'smc.mov')],
  ['Sorenson Video 1 (MOV)', 'svq1.mov', () => ff(...src(), '-c:v', 'svq1', '-pix_fmt', 'yuv410p', 'svq1.mov')],
  ['Microsoft Video 1 (AVI)', 'msvideo1.avi', () => ff(...src(), '-c:v', 'msvideo1', '-pix_fmt', 'rgb555le', 'msvideo1.avi')],
  ['Motion JPEG (MOV)', 'mjpeg.mov', () => ff(...src(), '-c:v', 'mjpeg', '-q:v', '5', 'mjpeg.mov')],
  ['Multipart JPEG (IP camera stream)', 'ipcam.mjpeg', () => ff(...src(), '-c:v', 'mjpeg', '-q:v', '5', '-f', 'mpjpeg', 'ipcam.mjpeg')],
  ['JPEG-LS (AVI)', 'jpegls.avi', () => ff(...src(), '-c:v', 'jpegls', 'jpegls.avi')],
  ['JPEG 2000 (MOV)', 'jpeg2000.mov', () => ff(...src(), '-c:v', 'jpeg2000', 'jpeg2000.mov')],
  // Lossless capture and editing codecs
  ['Ut Video (AVI)', 'utvideo.avi', () => ff(...src(), '-c:v', 'utvideo', 'utvideo.avi')],
  ['HuffYUV (AVI)', 'huffyuv.avi', () => ff(...src(), '-c:v', 'huffyuv', '-pix_fmt', 'yuv422p', 'huffyuv.avi')],
  ['MagicYUV (AVI)', 'magicyuv.avi', () => ff(...src(), '-c:v', 'magicyuv', 'magicyuv.avi')],
  ['ZMBV / DOSBox capture (AVI)', 'zmbv.avi', () => ff(...src(), '-c:v', 'zmbv', 'zmbv.avi')],
  ['v210 uncompressed 10-bit (MOV)', 'v210.mov', () => ff(...src(), '-c:v', 'v210', 'v210.mov')],
  ['Y4M raw (YUV4MPEG2)', 'raw.y4m', () => ff(...src('32x24'), '-f', 'yuv4mpegpipe', 'raw.y4m')],
  // Animated images and image sequences
  ['animated GIF', 'animated.gif', () => ff(...src(), '-f', 'gif', 'animated.gif')],
  ['APNG', 'animated.apng', () => ff(...src(), '-plays', '0', '-f', 'apng', 'animated.apng')],
  ['PNG image sequence', 'sequence/frame-%03d.png', () => { mkdirSync(join(out, 'sequence'), { recursive: true }); ff(...src(), '-start_number', '1', 'sequence/frame-%03d.png') }],
  // Left out on purpose: the error names the format
  ['HAP (MOV)', 'hap.mov', () => ff(...src(), '-c:v', 'hap', 'hap.mov'), 'HAP is not in this build'],
  ['animated WebP', 'animated.webp', () => ff(...src(), '-c:v', 'libwebp_anim', '-loop', '0', 'animated.webp'), 'animated WebP is not decodable'],
]

// Damaged variants: what a user's disk, a cut download or a bad copy leaves. Each must end as a
// coded error or as fewer frames, never a crash; the expected outcome is in the test.
const DAMAGED = [
  ['truncated MPEG-2 program stream (first 60 %)', 'damaged-truncated.mpg', 'mpeg2-ps.mpg', (b) => b.subarray(0, Math.floor(b.length * 0.6))],
  ['ASF with its header object zeroed', 'damaged-header.wmv', 'wmv2.wmv', (b) => { const c = Buffer.from(b); c.fill(0, 0, 16); return c }],
  ['animated GIF cut short (first 35 %)', 'damaged-truncated.gif', 'animated.gif', (b) => b.subarray(0, Math.floor(b.length * 0.35))],
  ['ProRes MOV with bytes flipped in its frames', 'damaged-bitflip.mov', 'prores.mov', (b) => { const c = Buffer.from(b); for (let i = 200; i < c.length - 600; i += 97) c[i] ^= 0x5a; return c }],
]

/** What Debian's FFmpeg decodes from `file`: every frame's timestamp and duration (ffprobe) and its 16×12 RGB picture. */
function debianFrames(file) {
  const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_frames', '-show_entries',
    'frame=best_effort_timestamp_time,pkt_duration_time,duration_time:stream=codec_name:format=format_name', '-of', 'json', file], { cwd: out, maxBuffer: 1 << 28 }).toString())
  const rgb = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', file, '-map', '0:v:0', '-vf', `scale=${W}:${H}:flags=area,format=rgb24`,
    '-fps_mode', 'passthrough', '-f', 'rawvideo', '-'], { cwd: out, maxBuffer: 1 << 28 })
  const size = W * H * 3
  const frames = probe.frames.map((f, i) => ({
    t: Number(f.best_effort_timestamp_time),
    duration: Number(f.duration_time ?? f.pkt_duration_time ?? 0),
    rgb: rgb.subarray(i * size, (i + 1) * size),
  }))
  if (rgb.length !== frames.length * size) throw new Error(`${file}: ${frames.length} frames from ffprobe, ${rgb.length / size} pictures from ffmpeg`)
  return { container: probe.format.format_name, codec: probe.streams[0].codec_name, frames }
}

/** Sample-and-hold at FPS (the tokenizer's rule, written again independently of decode.rs). */
function sampled(frames) {
  const kept = []
  for (const f of frames) {
    // No timestamp (an MPEG program stream's last frame): one frame interval after the previous one.
    const t = Number.isNaN(f.t) && kept.length > 0 ? kept.at(-1).t + (kept.length > 1 ? kept.at(-1).t - kept.at(-2).t : 1 / FPS) : f.t
    if (!Number.isNaN(t) && (kept.length === 0 || t > kept.at(-1).t)) kept.push({ ...f, t })
  }
  const t0 = kept[0].t
  const last = kept.at(-1)
  const lastLen = last.duration > 0 ? last.duration : kept.length > 1 ? last.t - kept.at(-2).t : 1 / FPS
  const duration = last.t - t0 + lastLen
  const out = []
  for (let k = 0; k / FPS < duration - 1e-9; k++) {
    let held = kept[0]
    for (const f of kept) if (f.t - t0 <= k / FPS + 1e-9) held = f
    out.push(held.rgb.toString('base64'))
  }
  return { duration, frames: out }
}

rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })
const reference = { made: 'node scripts/make-format-fixtures.mjs', ffmpeg: execFileSync('ffmpeg', ['-version']).toString().split('\n')[0], fps: FPS, width: W, height: H, fixtures: [] }
for (const [name, file, make, refused] of FIXTURES) {
  make()
  const bytes = file.includes('%') ? readdirSync(join(out, dirname(file))).reduce((n, f) => n + statSync(join(out, dirname(file), f)).size, 0) : statSync(join(out, file)).size
  const entry = { name, file, bytes }
  if (refused) {
    entry.error = refused
    const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name:format=format_name', '-of', 'json', file], { cwd: out }).toString())
    Object.assign(entry, { container: probe.format?.format_name, codec: probe.streams?.[0]?.codec_name })
  } else {
    const d = debianFrames(file)
    Object.assign(entry, { container: d.container, codec: d.codec, decoded: d.frames.length }, sampled(d.frames))
  }
  reference.fixtures.push(entry)
  console.log(`${file}: ${entry.container} / ${entry.codec}, ${bytes} bytes${entry.frames ? `, ${entry.decoded} frames → ${entry.frames.length} sampled` : ''}`)
}
for (const [name, file, from, damage] of DAMAGED) {
  writeFileSync(join(out, file), damage(readFileSync(join(out, from))))
  reference.fixtures.push({ name, file, damagedFrom: from, bytes: statSync(join(out, file)).size })
  console.log(`${file}: damaged copy of ${from}`)
}
writeFileSync(join(out, 'reference.json'), `${JSON.stringify(reference, null, 1)}\n`)
