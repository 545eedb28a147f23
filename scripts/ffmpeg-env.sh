# Sourced by setup.sh, test.sh and the packaging scripts: which FFmpeg the addon links and with
# which toolchain, as one set of variables, so that `napi build` and `cargo test` see the same
# features and environment (cargo then builds each crate once).
#
#   VIDEOBERT_FFMPEG=static  (default) the minimal LGPL FFmpeg of scripts/build-ffmpeg.sh, linked
#                            statically, compiled (with the addon) by the glibc-2.17 toolchain of
#                            scripts/glibc-toolchain.sh: exactly what the prebuilt npm binary contains
#   VIDEOBERT_FFMPEG=system  Debian's shared FFmpeg 5.1 (libavcodec-dev …) and the system compiler:
#                            a quicker first build for development; that addon only runs where those
#                            libraries are installed
#
# Sets CARGO_FFMPEG_FEATURES (cargo and napi arguments; the feature of the videobert-video crate), VIDEOBERT_TARGET (the Rust target triple), and
# for static builds PKG_CONFIG_LIBDIR/PKG_CONFIG_PATH and VIDEOBERT_FFMPEG_PREFIX_DIR, which is also
# written to target/ffmpeg-prefix for later steps.
VIDEOBERT_FFMPEG=${VIDEOBERT_FFMPEG:-static}
ffmpeg_env_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
case "$VIDEOBERT_FFMPEG" in
  static)
    [ "$(uname -s)" = Linux ] && source "$ffmpeg_env_dir/glibc-toolchain.sh"
    VIDEOBERT_FFMPEG_PREFIX_DIR=$(bash "$ffmpeg_env_dir/build-ffmpeg.sh")
    # Only our prefix: a system .pc file must never be picked up silently.
    export PKG_CONFIG_LIBDIR="$VIDEOBERT_FFMPEG_PREFIX_DIR/lib/pkgconfig" PKG_CONFIG_PATH=""
    export VIDEOBERT_FFMPEG_PREFIX_DIR
    mkdir -p "$ffmpeg_env_dir/../target" && echo "$VIDEOBERT_FFMPEG_PREFIX_DIR" > "$ffmpeg_env_dir/../target/ffmpeg-prefix"
    CARGO_FFMPEG_FEATURES=(--features videobert-video/static-ffmpeg)
    ;;
  system)
    unset PKG_CONFIG_LIBDIR
    CARGO_FFMPEG_FEATURES=()
    ;;
  *) echo "VIDEOBERT_FFMPEG must be 'static' or 'system', got '$VIDEOBERT_FFMPEG'" >&2; exit 1 ;;
esac
export VIDEOBERT_TARGET=${VIDEOBERT_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}
export VIDEOBERT_FFMPEG
