#!/usr/bin/env bash
# Make the subtitle-track fixtures (__test__/fixtures/subtitles/), once, with Debian 12's `ffmpeg`
# CLI (apt-get install ffmpeg): a 6 s test pattern carrying the same three cues (talk.srt) as a
# SubRip track in MKV, an ASS track in MKV, a WebVTT track in WebM and a mov_text track in MP4, with a
# language tag. The files are committed; tests and CI do not run this script.
#   bash scripts/make-subtitle-fixtures.sh
set -euo pipefail
cd "$(dirname "$0")/../__test__/fixtures/subtitles"
cat > talk.srt <<'SRT'
1
00:00:00,500 --> 00:00:02,000
<i>First</i> we mix the flour.

2
00:00:02,500 --> 00:00:04,000
Then we add water &amp; salt.

3
00:00:04,200 --> 00:00:05,800
Knead it for ten minutes.
SRT
ff() { ffmpeg -hide_banner -loglevel error -y "$@"; }
src=(-f lavfi -i testsrc2=size=64x48:rate=10:duration=6)
ff "${src[@]}" -i talk.srt -map 0:v -map 1:s -c:v mpeg4 -q:v 8 -c:s srt -metadata:s:s:0 language=eng srt-track.mkv
ff "${src[@]}" -i talk.srt -map 0:v -map 1:s -c:v mpeg4 -q:v 8 -c:s ass -metadata:s:s:0 language=eng ass-track.mkv
ff "${src[@]}" -i talk.srt -map 0:v -map 1:s -c:v libvpx -b:v 50k -c:s webvtt -metadata:s:s:0 language=eng webvtt-track.webm
ff "${src[@]}" -i talk.srt -map 0:v -map 1:s -c:v mpeg4 -q:v 8 -c:s mov_text -metadata:s:s:0 language=eng mov-text.mp4
ff "${src[@]}" -c:v mpeg4 -q:v 8 no-subtitles.mp4
ls -l
