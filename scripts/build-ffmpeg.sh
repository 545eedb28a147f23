#!/usr/bin/env bash
# Build the minimal, LGPL-only FFmpeg the prebuilt addon carries: static PIC libraries of FFmpeg,
# dav1d (AV1) and zlib (PNG, compressed Matroska/MP4 headers), from Debian 12's source packages,
# pinned by version and checksum, into a prefix outside /usr (under /usr pkg-config would quietly
# hand the linker the shared system libraries instead).
#
#   prefix=$(bash scripts/build-ffmpeg.sh)      # logs on stderr, the prefix on stdout
#
# The prefix is cached: its name is a hash of this script and the toolchain, and the script pins the
# sources, so an unchanged recipe is never built twice. A finished prefix holds `.complete`, the
# license notices, and BUILD-INFO.txt (source versions, checksums, every configure line).
#
# Sources: `apt-get source` with a private deb-src list derived from this machine's own apt sources
# (the system's apt configuration is not touched); where there is no apt (macOS, Windows), the same
# files straight from $DEBIAN_MIRROR. Either way every file is checked against the sha256 pinned here.
#
# Environment:
#   VIDEOBERT_FFMPEG_CACHE   where prefixes live (default: ~/.cache/videobert-native)
#   VIDEOBERT_FFMPEG_PREFIX  build into exactly this prefix instead
#   CC, AR, NM, RANLIB       the C toolchain (default: cc, ar, nm, ranlib); scripts/glibc-toolchain.sh
#                            sets them to a glibc-2.17 gcc for the prebuilt Linux binaries
#   CROSS_PREFIX, TARGET_ARCH, SYSROOT   when cross-compiling (e.g. aarch64 on x86_64)
#   TOOLCHAIN=msvc           Windows: MSVC's cl/lib from an MSYS2 shell (written for the release
#                            workflow, never run)
#   JOBS                     parallel jobs (default: all cores)
#   DEBIAN_MIRROR            default http://deb.debian.org/debian
set -euo pipefail
script="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"

# ---- The pinned sources (Debian 12 "bookworm") -------------------------------------------------
# name  version  pool-dir  file:sha256 ...
FFMPEG=(ffmpeg 7:5.1.9-0+deb12u1 f/ffmpeg
  ffmpeg_5.1.9-0+deb12u1.dsc:055f82fca9a92f1d47216be2c2488d09373c7ca154806fbc36b0127c191d5104
  ffmpeg_5.1.9.orig.tar.xz:d9b593bb2ba93d4b50f74177e0cdcd41747e708596367deed0c30348a71dd176
  ffmpeg_5.1.9-0+deb12u1.debian.tar.xz:71b20472ecd2764bc98e3229d34c0f7c8dcfe4a6cbacc23fd5604c23bac04632)
DAV1D=(dav1d 1.0.0-2+deb12u1 d/dav1d
  dav1d_1.0.0-2+deb12u1.dsc:590dba7fc0ce89cac8bdfbd2cd54594d65dff8b0b4becad1f558e033dd506cb4
  dav1d_1.0.0.orig.tar.xz:51737db7e4897e599684f873a4725176dd3c779e639411d7c4fce134bb5ebb82
  dav1d_1.0.0-2+deb12u1.debian.tar.xz:ae53e2bda2a18275cc66570194fced9b9681df2b3b8e041586a26a59d69a727e)
ZLIB=(zlib 1:1.2.13.dfsg-1 z/zlib
  zlib_1.2.13.dfsg-1.dsc:3fa1e6b2fc525062aa88207dda52fed8e045373c809d362fe8a2bfbf7cf515a8
  zlib_1.2.13.dfsg.orig.tar.bz2:71feb7947e3c00ef125f83b79a4e529bde31171e5babe48b391f06758d1ab0a1
  zlib_1.2.13.dfsg-1.debian.tar.xz:f66cf3d4f2d7defcd4d1fd1fb0a11ee39f1e01b42ec7d059c9dc5c1695133c44)

# ---- What FFmpeg contains ----------------------------------------------------------------------
# Every LGPL video decoder of a format a user is likely to hold, with the demuxers and parsers that
# find its streams; FFmpeg's own MPEG-4 Part 2 and MJPEG encoders (the demo, `writeVideo`); no GPL
# parts, no external libraries but dav1d (BSD) and zlib. No audio: nothing here reads sound. The text
# subtitle decoders read captions from subtitle tracks (crates/videobert-video/src/subtitles/embedded.rs).
# Left out on purpose (the decode error names them, crates/videobert-video/src/formats.rs): HAP
# (its decoder needs the snappy library), animated WebP (FFmpeg 5.1 has no decoder for it), game
# formats (Bink, Smacker, …).
# A name configure does not know fails the build (below), so these lists cannot rot silently.
DECODERS=(
  h264 hevc vp8 vp9 libdav1d av1 vp4 vp5 vp6 vp6a vp6f vp7 theora vp3       # web, phones, cameras; On2/Flash
  mpeg1video mpeg2video mpeg4 h261 h263 h263i h263p flv                      # MPEG-1/2 (DVD, broadcast), MPEG-4 Part 2, H.26x, Sorenson (Flash)
  msmpeg4v1 msmpeg4v2 msmpeg4v3 wmv1 wmv2 wmv3 wmv3image vc1 vc1image mss1 mss2  # Windows Media (ASF/AVI)
  rv10 rv20 rv30 rv40                                                        # RealVideo
  prores dnxhd cfhd aic hq_hqa hqx dvvideo                                   # editing and camera intermediates, DV
  mjpeg mjpegb sp5x amv mxpeg jpegls jpeg2000                                # Motion JPEG variants (cameras, IP cams), JPEG-LS, JPEG 2000
  ffv1 ffvhuff huffyuv utvideo magicyuv lagarith rawvideo v210 v210x v308 v408 v410 yuv4 y41p r10k r210  # lossless and uncompressed
  cinepak rpza smc qtrle eightbps svq1 svq3 msvideo1 msrle indeo2 indeo3 indeo4 indeo5 truemotion1 truemotion2  # QuickTime/AVI-era
  tscc tscc2 zmbv cscd flashsv flashsv2 fraps                                # screen and game capture
  gif apng png webp bmp tiff targa ppm pgm pgmyuv pbm pam qoi sgi            # images and animated images
  subrip srt webvtt ass ssa movtext text                                     # text subtitle tracks in MKV/MP4/WebM (videobert's captions)
)
ENCODERS=(mpeg4 mjpeg)
PARSERS=(h264 hevc vp8 vp9 av1 vp3 mpeg4video mpegvideo h261 h263 vc1 rv30 rv40 dnxhd mjpeg png gif webp bmp pnm)
DEMUXERS=(
  mov matroska avi ogg flv ivf nut                                           # MP4/MOV/3GP, MKV/WebM, AVI, Ogg, FLV, IVF, NUT
  mpegts mpegps mpegvideo m4v h264 hevc obu h261 h263 vc1 vc1t dnxhd         # MPEG-TS/PS (and DVD VOB), elementary streams
  asf wtv rm swf dv mxf yuv4mpegpipe mjpeg mpjpeg                            # Windows Media, RealMedia, Flash, DV, MXF, Y4M, (multipart) MJPEG
  gif apng image2 image2pipe                                                 # animated images, image sequences (img%03d.png)
  image_png_pipe image_jpeg_pipe image_jpegls_pipe image_bmp_pipe image_tiff_pipe image_webp_pipe image_qoi_pipe image_sgi_pipe  # single images
  image_ppm_pipe image_pgm_pipe image_pgmyuv_pipe image_pbm_pipe image_pam_pipe
)
MUXERS=(mp4 mov avi)
BSFS=(vp9_superframe_split av1_frame_split av1_frame_merge extract_extradata mpeg4_unpack_bframes h264_mp4toannexb hevc_mp4toannexb)
csv() { local IFS=,; echo "$*"; }

log() { printf '[build-ffmpeg] %s\n' "$*" >&2; }
die() { printf '[build-ffmpeg] error: %s\n' "$*" >&2; exit 1; }

CC=${CC:-cc} AR=${AR:-ar} NM=${NM:-nm} RANLIB=${RANLIB:-ranlib}
[ "${TOOLCHAIN:-}" = msvc ] && CC=cl
CROSS_PREFIX=${CROSS_PREFIX:-} SYSROOT=${SYSROOT:-} TARGET_ARCH=${TARGET_ARCH:-$(uname -m)} TOOLCHAIN=${TOOLCHAIN:-}
JOBS=${JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 2)}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
sha256() { if command -v sha256sum >/dev/null; then sha256sum "$1" | cut -d' ' -f1; else shasum -a 256 "$1" | cut -d' ' -f1; fi; }

for tool in "$CC" make nasm meson ninja tar xz patch; do
  command -v "${tool%% *}" >/dev/null || die "'$tool' is needed (Debian: apt-get install build-essential nasm meson ninja-build xz-utils patch)"
done

key=$( { cat "$script"; "$CC" --version 2>&1 | head -n1; echo "$CROSS_PREFIX $SYSROOT $TARGET_ARCH $TOOLCHAIN $(uname -sm)"; } | { sha256sum 2>/dev/null || shasum -a 256; } | cut -c1-16)
cache=${VIDEOBERT_FFMPEG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/videobert-native}
prefix=${VIDEOBERT_FFMPEG_PREFIX:-$cache/ffmpeg-$key}
case "$prefix" in /usr|/usr/*) die "the prefix must be outside /usr (pkg-config would link the shared system libraries): $prefix" ;; esac
if [ -f "$prefix/.complete" ]; then
  log "cached: $prefix"
  echo "$prefix"
  exit 0
fi

start=$(date +%s)
work=$(mktemp -d "${TMPDIR:-/tmp}/videobert-ffmpeg.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src"

# ---- Fetch and check the sources ---------------------------------------------------------------
fetch_with_apt() { # the deb-src list is derived from the machine's own apt sources
  local apt=$work/apt
  mkdir -p "$apt/lists/partial" "$apt/parts" "$apt/cache/archives/partial"
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && sed -E 's/^Types:.*/Types: deb-src/' "$f" > "$apt/parts/$(basename "$f")"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] && sed -nE 's/^[[:space:]]*deb[[:space:]]+/deb-src /p' "$f" > "$apt/parts/$(basename "$f").list"
  done
  local o=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$apt/parts" -o "Dir::State::Lists=$apt/lists"
           -o "Dir::Cache=$apt/cache" -o "APT::Sandbox::User=root" -qq)
  log "apt-get update (deb-src lists derived from /etc/apt, kept in $apt)"
  apt-get "${o[@]}" update >&2
  (cd "$work/src" && apt-get "${o[@]}" source --download-only "${FFMPEG[0]}=${FFMPEG[1]}" "${DAV1D[0]}=${DAV1D[1]}" "${ZLIB[0]}=${ZLIB[1]}" >&2) ||
    die "apt-get source could not fetch the pinned versions (${FFMPEG[1]}, ${DAV1D[1]}, ${ZLIB[1]}); if Debian has moved on, update the pins in $script"
}
fetch_direct() { # no apt: the same files from the mirror's pool
  local pkg
  for pkg in FFMPEG DAV1D ZLIB; do
    local -n p=$pkg
    local entry
    for entry in "${p[@]:3}"; do
      log "download ${entry%%:*}"
      curl -fsSL --retry 3 -o "$work/src/${entry%%:*}" "$DEBIAN_MIRROR/pool/main/${p[2]}/${entry%%:*}"
    done
  done
}
if command -v apt-get >/dev/null && [ -d /etc/apt ]; then fetch_with_apt; else fetch_direct; fi

verify() {
  local -n p=$1
  local entry file want got
  for entry in "${p[@]:3}"; do
    file=${entry%%:*} want=${entry##*:}
    [ -f "$work/src/$file" ] || die "missing source file $file"
    got=$(sha256 "$work/src/$file")
    [ "$got" = "$want" ] || die "checksum mismatch for $file: got $got, pinned $want"
  done
}
verify FFMPEG; verify DAV1D; verify ZLIB
log "sources verified against the pinned sha256 sums"

# Unpack upstream + the Debian packaging, and apply Debian's patch series (what dpkg-source does for
# a "3.0 (quilt)" package; done by hand so the same steps run where there is no dpkg).
unpack() {
  local -n p=$1
  local dir=$work/build/${p[0]}
  mkdir -p "$dir"
  tar -xf "$work/src/$(echo "${p[4]}" | cut -d: -f1)" -C "$dir" --strip-components=1
  tar -xf "$work/src/$(echo "${p[5]}" | cut -d: -f1)" -C "$dir"
  if [ -f "$dir/debian/patches/series" ]; then
    local patchfile
    while read -r patchfile _; do
      case "$patchfile" in ''|'#'*) continue ;; esac
      patch -d "$dir" -p1 -s --forward < "$dir/debian/patches/$patchfile" >&2
    done < "$dir/debian/patches/series"
  fi
  echo "$dir"
}

mkdir -p "$prefix"
rm -f "$prefix/.complete"
export PKG_CONFIG_LIBDIR="$prefix/lib/pkgconfig" PKG_CONFIG_PATH=""  # nothing from the system
CFLAGS_COMMON="-O2 -fPIC ${SYSROOT:+--sysroot=$SYSROOT}"

# ---- zlib (static only: the linker then cannot pick the system's libz.so from our -L) ------------
zsrc=$(unpack ZLIB)
log "zlib ${ZLIB[1]}"
if [ "$TOOLCHAIN" = msvc ]; then
  # zlib's own MSVC makefile; FFmpeg's configure (and pkg-config's -lz) look for z.lib.
  (cd "$zsrc" && nmake -nologo -f win32/Makefile.msc zlib.lib >&2)
  mkdir -p "$prefix/lib" "$prefix/include"
  cp "$zsrc/zlib.lib" "$prefix/lib/z.lib" && cp "$zsrc/zlib.h" "$zsrc/zconf.h" "$prefix/include/"
else
  (cd "$zsrc" && CC="$CC" AR="$AR" RANLIB="$RANLIB" CFLAGS="$CFLAGS_COMMON" ./configure --static --prefix="$prefix" --libdir="$prefix/lib" >&2 &&
    make -j"$JOBS" libz.a >&2 && make install >&2)
fi

# ---- dav1d -------------------------------------------------------------------------------------
dsrc=$(unpack DAV1D)
log "dav1d ${DAV1D[1]}"
cross_file=()
if [ -n "$CROSS_PREFIX$SYSROOT" ]; then
  cat > "$work/meson-cross.ini" <<INI
[binaries]
c = '$CC'
ar = '$AR'
strip = '${CROSS_PREFIX}strip'
[built-in options]
c_args = [${SYSROOT:+'--sysroot=$SYSROOT'}]
c_link_args = [${SYSROOT:+'--sysroot=$SYSROOT'}]
[host_machine]
system = 'linux'
cpu_family = '$TARGET_ARCH'
cpu = '$TARGET_ARCH'
endian = 'little'
INI
  cross_file=(--cross-file "$work/meson-cross.ini")
fi
dav1d_setup=(--prefix="$prefix" --libdir=lib --buildtype=release --default-library=static -Db_pic=true
             -Denable_tools=false -Denable_tests=false -Denable_examples=false -Denable_docs=false)
[ "$TOOLCHAIN" = msvc ] && export CC=cl
(cd "$dsrc" && CC="$CC" meson setup build "${dav1d_setup[@]}" "${cross_file[@]}" >&2 && ninja -C build -j"$JOBS" >&2 && ninja -C build install >&2)
# meson names an MSVC static library libdav1d.a; FFmpeg's configure with --toolchain=msvc links dav1d.lib.
[ "$TOOLCHAIN" = msvc ] && cp "$prefix/lib/libdav1d.a" "$prefix/lib/dav1d.lib"

# ---- FFmpeg ------------------------------------------------------------------------------------
fsrc=$(unpack FFMPEG)
log "FFmpeg ${FFMPEG[1]}"
ffmpeg_configure=(
  --prefix="$prefix" --libdir="$prefix/lib" --pkg-config=pkg-config --pkg-config-flags=--static
  --enable-static --disable-shared --enable-pic
  --disable-programs --disable-doc --disable-debug --disable-autodetect --disable-network
  --disable-everything --disable-avdevice --disable-avfilter --disable-postproc --disable-swresample
  --enable-avcodec --enable-avformat --enable-swscale
  --enable-libdav1d --enable-zlib
  --enable-decoder="$(csv "${DECODERS[@]}")" --enable-encoder="$(csv "${ENCODERS[@]}")" --enable-parser="$(csv "${PARSERS[@]}")"
  --enable-demuxer="$(csv "${DEMUXERS[@]}")" --enable-muxer="$(csv "${MUXERS[@]}")" --enable-bsf="$(csv "${BSFS[@]}")" --enable-protocol=file,pipe
  --extra-cflags="-I$prefix/include ${SYSROOT:+--sysroot=$SYSROOT}" --extra-ldflags="-L$prefix/lib ${SYSROOT:+--sysroot=$SYSROOT}"
)
if [ "$TOOLCHAIN" = msvc ]; then
  ffmpeg_configure+=(--toolchain=msvc --target-os=win64 --arch=x86_64)
else
  ffmpeg_configure+=(--cc="$CC" --ar="$AR" --nm="$NM" --ranlib="$RANLIB")
fi
[ -n "$CROSS_PREFIX" ] && ffmpeg_configure+=(--enable-cross-compile --cross-prefix="$CROSS_PREFIX" --target-os=linux --arch="$TARGET_ARCH")
(cd "$fsrc" && ./configure "${ffmpeg_configure[@]}" > "$work/configure.out" 2>&1 || { cat "$work/configure.out" >&2; tail -n 40 ffbuild/config.log >&2; exit 1; })
cat "$work/configure.out" >&2
# configure drops a component name it does not know without a word (it warns only when none of a
# list matches), and one whose dependencies are missing: every name asked for must be built.
check_built() { # KIND NAME...
  local kind=$1 name; shift
  for name in "$@"; do
    grep -q "^CONFIG_${name^^}_${kind}=yes" "$fsrc/ffbuild/config.mak" || die "configure did not enable the $name ${kind,,} (unknown name, or a dependency is missing)"
  done
}
check_built DECODER "${DECODERS[@]}"; check_built ENCODER "${ENCODERS[@]}"; check_built PARSER "${PARSERS[@]}"
check_built DEMUXER "${DEMUXERS[@]}"; check_built MUXER "${MUXERS[@]}"; check_built BSF "${BSFS[@]}"
(cd "$fsrc" && make -j"$JOBS" >&2 && make install >&2)

# ---- Notices and the build record --------------------------------------------------------------
mkdir -p "$prefix/share/licenses"
cp "$fsrc/COPYING.LGPLv2.1" "$prefix/share/licenses/FFmpeg-LGPL-2.1.txt"
cp "$dsrc/COPYING" "$prefix/share/licenses/dav1d-BSD-2-Clause.txt"
sed -n '/Copyright notice/,/^$/p;/(C) 1995/,/madler/p' "$zsrc/README" > "$prefix/share/licenses/zlib.txt"
[ -s "$prefix/share/licenses/zlib.txt" ] || cp "$zsrc/README" "$prefix/share/licenses/zlib.txt"
seconds=$(( $(date +%s) - start ))
{
  echo "FFmpeg, dav1d and zlib as linked into the videobert-native addon (static, PIC, LGPL-only FFmpeg)."
  echo "Built $(date -u +%Y-%m-%dT%H:%MZ) on $(uname -sm) with $("$CC" --version 2>&1 | head -n1), $JOBS jobs, ${seconds}s."
  for pkg in FFMPEG DAV1D ZLIB; do
    declare -n p=$pkg
    echo
    echo "${p[0]} ${p[1]} (Debian source package, $DEBIAN_MIRROR/pool/main/${p[2]}/):"
    for entry in "${p[@]:3}"; do echo "  sha256 ${entry##*:}  ${entry%%:*}"; done
  done
  echo
  echo "FFmpeg configure line:"
  echo "  ./configure ${ffmpeg_configure[*]}"
  echo
  echo "FFmpeg license: $(sed -n "s/^#define FFMPEG_LICENSE //p" "$fsrc/config.h")"
  echo "dav1d: meson setup ${dav1d_setup[*]}"
  echo "zlib: ./configure --static"
} > "$prefix/BUILD-INFO.txt"
touch "$prefix/.complete"
log "done in ${seconds}s: $prefix"
echo "$prefix"
