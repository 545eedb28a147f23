/**
 * Write RGB frames as a video file with the addon's own FFmpeg encoders (MPEG-4 Part 2 or Motion
 * JPEG): no `ffmpeg` command line needed. The demo renders its clips this way.
 */
import { encodeVideo, guard } from './native.js'

/** How `writeVideo` encodes: the frame size, the frame rate, the codec and its quality and key-frame interval. */
export interface WriteVideoOptions {
  /** Frame width in pixels (even). */
  width: number
  /** Frame height in pixels (even). */
  height: number
  /** Frames per second. @default 20 */
  frameRate?: number
  /** `'mpeg4'` (MPEG-4 Part 2, compact) or `'mjpeg'` (Motion JPEG, every frame a key frame). @default 'mpeg4' */
  codec?: 'mpeg4' | 'mjpeg'
  /** Fixed quantiser from 1 (best) to 31, as FFmpeg's `-q:v`. @default 3 */
  quality?: number
  /** Frames between key frames (mpeg4). @default the frame rate */
  gop?: number
}

/** What `writeVideo` wrote: frames encoded, file size in bytes, the encoder and the container. */
export interface WrittenVideo {
  frames: number
  bytes: number
  /** The encoder, e.g. `'mpeg4'`. */
  codec: string
  /** The container, from the file extension (`.mp4`, `.mov`, `.avi`), e.g. `'mp4'`. */
  container: string
}

/**
 * Encode `rgb` — `n` packed RGB24 frames, `n × height × width × 3` bytes — into `path`.
 * Single-threaded: the same frames always give the same file.
 */
export function writeVideo(path: string, rgb: Uint8Array, options: WriteVideoOptions): Promise<WrittenVideo> {
  return guard(() => encodeVideo(path, rgb, options))
}
