#!/usr/bin/env bash
# Regenerate the small video fixtures in __test__/fixtures/video with FFmpeg's lavfi sources.
# Needs the `ffmpeg` CLI with libx264, libx265, libvpx, libaom, libtheora (Debian 12's `ffmpeg`).
# The files are committed; tests and CI do not run this script.
set -euo pipefail
out=${1:-"$(dirname "$0")/../__test__/fixtures/video"}
mkdir -p "$out"
cd "$out"
ff() { ffmpeg -hide_banner -loglevel error -y "$@"; }
src() { echo "testsrc2=size=${1}:rate=${2}:duration=${3}"; }   # size, fps, seconds

ff -f lavfi -i "$(src 96x64 25 4)" -c:v libx264 -pix_fmt yuv420p -g 25 h264.mp4               # 4 s, 100 frames
ff -f lavfi -i "$(src 96x64 30 3)" -c:v libvpx-vp9 -b:v 200k vp9.webm                           # 3 s, 90 frames
ff -f lavfi -i "$(src 96x64 24 3)" -c:v mpeg4 -q:v 5 mpeg4.avi                                  # 3 s, 72 frames
ff -f lavfi -i "$(src 96x64 15 4)" -c:v mjpeg -q:v 5 mjpeg.avi                                  # 4 s, 60 frames
ff -f lavfi -i "$(src 96x64 25 2)" -c:v libtheora -q:v 5 theora.ogv                             # 2 s, 50 frames
ff -f lavfi -i "$(src 96x64 25 2)" -c:v libaom-av1 -cpu-used 8 -crf 50 av1.mkv                  # 2 s, 50 frames
ff -f lavfi -i "$(src 96x64 25 2)" -c:v libx265 -pix_fmt yuv420p10le -x265-params log-level=error hevc10.mkv  # 10-bit
# Variable frame rate: 25 frames at 25 fps (1 s), then 15 frames at 5 fps (3 s) → 4 s.
ff -f lavfi -i "$(src 96x64 25 2)" -vf "setpts='if(lt(N,25),N/25,1+(N-25)/5)/TB'" -frames:v 40 -fps_mode vfr -c:v libx264 vfr.mkv
# Rotation metadata: a 96x64 blue picture with a red block at its top-left, tagged "rotate 90".
# (FFmpeg 5.1 writes the display matrix when remuxing with the tag; players turn it 90° counter-clockwise.)
ff -f lavfi -i "color=blue:size=96x64:rate=10:duration=2,drawbox=x=0:y=0:w=24:h=16:color=red:t=fill" \
   -c:v libx264 -pix_fmt yuv444p upright.mp4
ff -i upright.mp4 -c copy -metadata:s:v:0 rotate=90 rotated.mp4 && rm upright.mp4
ff -f lavfi -i "$(src 96x64 10 2),scale=97:61" -c:v libx264 -pix_fmt yuv444p odd-97x61.mp4                    # odd size
ff -f lavfi -i "$(src 64x48 10 2)" -c:v ffv1 -pix_fmt gray gray.mkv                              # gray
ff -f lavfi -i "$(src 64x48 10 2),format=rgba" -c:v png alpha.mkv                                # alpha
ff -f lavfi -i "$(src 96x64 25 1)" -frames:v 1 -c:v libx264 single-frame.mp4                     # one frame
ff -f lavfi -i "sine=frequency=440:duration=2" -c:a aac audio-only.m4a                           # no video
# Bad inputs.
: > zero-bytes.mp4
head -c 4096 /dev/urandom > random-bytes.mp4
head -c 2000 h264.mp4 > header-only.mp4
head -c "$(( $(stat -c %s h264.mp4) / 2 ))" h264.mp4 > truncated.mp4
cp h264.mp4 "with spaces ünïcödé.mp4"
ls -la
