# Sourced by setup.sh and test.sh: which FFmpeg the addon links, as one set of variables so that
# `napi build` and `cargo test` see the same features and environment (cargo then builds each crate once).
#
#   VIDEOBERT_FFMPEG=static  (default) the minimal LGPL FFmpeg of scripts/build-ffmpeg.sh, linked
#                            statically: exactly what the prebuilt npm binary contains
#   VIDEOBERT_FFMPEG=system  Debian's shared FFmpeg 5.1 (libavcodec-dev …): a quicker first build for
#                            development; the resulting addon only runs where those libraries are installed
#
# Sets CARGO_FFMPEG_FEATURES (cargo/napi arguments) and, for static, PKG_CONFIG_LIBDIR/PKG_CONFIG_PATH.
VIDEOBERT_FFMPEG=${VIDEOBERT_FFMPEG:-static}
case "$VIDEOBERT_FFMPEG" in
  static)
    VIDEOBERT_FFMPEG_PREFIX_DIR=$(bash "$(dirname "${BASH_SOURCE[0]}")/build-ffmpeg.sh")
    # Only our prefix: a system .pc file must never be picked up silently.
    export PKG_CONFIG_LIBDIR="$VIDEOBERT_FFMPEG_PREFIX_DIR/lib/pkgconfig" PKG_CONFIG_PATH=""
    export VIDEOBERT_FFMPEG_PREFIX_DIR
    CARGO_FFMPEG_FEATURES=(--features static-ffmpeg)
    ;;
  system)
    unset PKG_CONFIG_LIBDIR
    CARGO_FFMPEG_FEATURES=()
    ;;
  *) echo "VIDEOBERT_FFMPEG must be 'static' or 'system', got '$VIDEOBERT_FFMPEG'" >&2; exit 1 ;;
esac
export VIDEOBERT_FFMPEG
