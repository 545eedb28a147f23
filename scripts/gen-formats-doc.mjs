#!/usr/bin/env node
// Write docs/formats.md from the built addon's own FFmpeg: `npm run docs:formats` (after a build).
// __test__/formats.spec.ts fails when the committed page differs from what the build reports.
import { mkdirSync, writeFileSync } from 'node:fs'

const { formatsMarkdown, videoFormats } = await import('../dist/index.js')
const formats = videoFormats()
if (!formats.configuration.includes('--disable-everything')) {
  console.error('gen-formats-doc: this addon links the system FFmpeg (VIDEOBERT_FFMPEG=system); the page documents the bundled build — run scripts/setup.sh with the default static FFmpeg first')
  process.exit(1)
}
mkdirSync(new URL('../docs/', import.meta.url), { recursive: true })
writeFileSync(new URL('../docs/formats.md', import.meta.url), formatsMarkdown(formats))
console.log(`docs/formats.md: ${formats.containers.length} containers, ${formats.videoCodecs.length} video codecs (FFmpeg ${formats.ffmpegVersion})`)
