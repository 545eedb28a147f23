#!/usr/bin/env bash
# Clean-room install test: does `npm install videobert-native` + `npx videobert demo --quick` work
# on a machine that has only Node?
#
#  1. a minimal Debian 12 root (debootstrap --variant=minbase, from Debian's package registry): no
#     compiler, no Rust, no FFmpeg libraries or command line; only the Node runtime copied in (the
#     node binary and npm's JavaScript);
#  2. the packages staged as they are published (scripts/stage-packages.mjs: the main package and
#     this machine's platform package), published to a private npm registry on 127.0.0.1 (verdaccio,
#     from npm, in a temporary folder);
#  3. inside the root (chroot): a plain `npm install videobert-native` in an empty project, then
#     `npx videobert demo --quick`, which must pass.
#
# Needs root (debootstrap, chroot, mounts), network to Debian and npm, and a built static addon
# (`bash scripts/setup.sh`). CLEAN_ROOM_KEEP=1 keeps the root in $CLEAN_ROOM_DIR for another run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
log() { printf '[clean-room] %s\n' "$*"; }
[ "$(id -u)" -eq 0 ] || { echo "clean-room: needs root (debootstrap, chroot)" >&2; exit 1; }
source scripts/ffmpeg-env.sh
[ "$VIDEOBERT_FFMPEG" = static ] || { echo "clean-room: needs the static build (VIDEOBERT_FFMPEG=static)" >&2; exit 1; }

work=${CLEAN_ROOM_DIR:-/tmp/videobert-clean-room}
debian=$work/debian
port=${CLEAN_ROOM_PORT:-4873}
registry=http://127.0.0.1:$port
mkdir -p "$work"
verdaccio_pid=
cleanup() {
  for m in proc dev; do mountpoint -q "$debian/$m" && umount -l "$debian/$m"; done
  [ -n "$verdaccio_pid" ] && kill "$verdaccio_pid" 2>/dev/null || true
  [ "${CLEAN_ROOM_KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

# ---- 1. The minimal Debian root with only Node ---------------------------------------------------
if [ ! -x "$debian/bin/bash" ]; then
  command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  log "debootstrap --variant=minbase bookworm"
  start=$(date +%s)
  debootstrap --variant=minbase bookworm "$debian" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 ||
    { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
  log "root made in $(( $(date +%s) - start )) s, $(du -sh "$debian" | cut -f1)"
fi
node_bin=$(command -v node)
npm_dir=$(npm root -g)/npm
mkdir -p "$debian/usr/local/bin" "$debian/usr/local/lib/node_modules"
cp "$node_bin" "$debian/usr/local/bin/node"
rm -rf "$debian/usr/local/lib/node_modules/npm"
cp -r "$npm_dir" "$debian/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$debian/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$debian/usr/local/bin/npx"
rm -rf "$debian/root/app" "$debian/root/.npm"

# ---- 2. A private registry with the staged packages ----------------------------------------------
if [ ! -x "$work/verdaccio/node_modules/.bin/verdaccio" ]; then
  log "installing verdaccio (npm) into $work/verdaccio"
  mkdir -p "$work/verdaccio"
  # 6.8 is the last release for Node 20. Some of its dependencies ask for node-fetch's `cjs` dist-tag,
  # which not every registry mirror carries: pin the version that tag names.
  echo '{"name":"clean-room-registry","private":true,"dependencies":{"verdaccio":"6.8.0"},"overrides":{"node-fetch":"2.7.0"}}' > "$work/verdaccio/package.json"
  (cd "$work/verdaccio" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
fi
rm -rf "$work/verdaccio/storage" "$work/verdaccio/htpasswd"
cat > "$work/verdaccio/config.yaml" <<YAML
storage: $work/verdaccio/storage
auth:
  htpasswd:
    file: $work/verdaccio/htpasswd
uplinks: {}
packages:
  '**':
    access: \$all
    publish: \$authenticated
listen: 127.0.0.1:$port
max_body_size: 200mb
log: { type: stdout, format: pretty, level: warn }
YAML
"$work/verdaccio/node_modules/.bin/verdaccio" --config "$work/verdaccio/config.yaml" >"$work/verdaccio.log" 2>&1 &
verdaccio_pid=$!
for _ in $(seq 1 60); do curl -fs "$registry/-/ping" >/dev/null 2>&1 && break; sleep 0.5; done
curl -fs "$registry/-/ping" >/dev/null || { cat "$work/verdaccio.log" >&2; exit 1; }
token=$(curl -fs -X PUT -H 'content-type: application/json' \
  -d '{"name":"ci","password":"clean-room-only","type":"user"}' "$registry/-/user/org.couchdb.user:ci" |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).token))')
printf '//127.0.0.1:%s/:_authToken=%s\nregistry=%s\n' "$port" "$token" "$registry" > "$work/npmrc"

mapfile -t packages < <(node scripts/stage-packages.mjs --out "$work/stage")
for dir in "${packages[@]}"; do
  (cd "$dir" && npm publish --userconfig "$work/npmrc" --loglevel=error >/dev/null)
  log "published $(node -p "require('$dir/package.json').name + '@' + require('$dir/package.json').version") to $registry"
done

# ---- 3. Install and run inside the root ----------------------------------------------------------
mount -t proc proc "$debian/proc"
mount --rbind /dev "$debian/dev"
log "in the clean root: npm install videobert-native && npx videobert demo --quick"
chroot "$debian" /usr/bin/env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 REGISTRY="$registry" /bin/bash -euo pipefail -c '
  echo "Debian $(cat /etc/debian_version), node $(node --version), npm $(npm --version)"
  for tool in cc gcc clang cargo rustc ffmpeg pkg-config; do
    if command -v "$tool" >/dev/null; then echo "unexpected: $tool is installed" >&2; exit 1; fi
  done
  if ls /usr/lib/*/libav* /usr/lib/*/libswscale* >/dev/null 2>&1; then echo "unexpected: FFmpeg libraries are installed" >&2; exit 1; fi
  echo "no compiler, no Rust, no FFmpeg (command line or libraries)"
  mkdir -p /root/app && cd /root/app
  npm init -y >/dev/null
  npm install --registry "$REGISTRY" --no-audit --no-fund videobert-native
  ls node_modules
  npx videobert demo --quick
'
log "passed"
