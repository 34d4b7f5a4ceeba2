#!/usr/bin/env bash
# The main job on an embedded default: a throwaway store, a channel, a sample
# file ingested into encrypted blobs and extracted back, byte for byte.
# (The FUSE mount joins this demo when `megafs mount` lands.)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x build/megafs ]; then
	tools/deps.sh
	tools/build.sh build
fi
megafs=$PWD/build/megafs
work=$(mktemp -d /tmp/megafs-demo-XXXXXX)
trap 'rm -rf "$work"' EXIT
export MEGAFS_STORE=$work/store
export MEGAFS_PASSWORD="demo password (throwaway)"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. A throwaway store: 128 MiB of random-looking slots"
"$megafs" init --size 128M --kdf interactive

step "2. A channel: an Ed25519 key pair; the link is what you share"
link=$("$megafs" channel new "Demo films")
echo "$link"

step "3. A sample file (a text header and 24 MiB of data)"
{
	echo "megafs demo sample, made $(date -u +%FT%TZ)"
	head -c $((24 << 20)) /dev/urandom
} >"$work/sample.bin"
ls -l "$work/sample.bin"

step "4. Ingest: chunk, encrypt, pin; the FileEntry is the recipe"
"$megafs" ingest "$work/sample.bin" --channel "$link" >"$work/entry.json"
head -c 220 "$work/entry.json"
echo " ..."

step "5. Extract: reassemble from the store"
"$megafs" extract "$work/entry.json" -o "$work/sample.out"
cmp "$work/sample.bin" "$work/sample.out"
echo "byte-identical: $(sha256sum <"$work/sample.out" | cut -c1-16)..."

step "6. What the store shows"
"$megafs" status
"$megafs" channel list
if grep -qaF "megafs demo sample" -r "$MEGAFS_STORE"; then
	echo "plaintext found on disk: this is a bug" >&2
	exit 1
fi
echo "no plaintext of the sample anywhere under $MEGAFS_STORE"

step "Done"
cat <<MSG
The store ($work/store) is deleted now. To keep one:
  export MEGAFS_STORE=~/megafs-store
  build/megafs init                       # asks for a password twice
  build/megafs channel new "My films"
  build/megafs ingest film.mkv > film.json
  build/megafs extract film.json -o copy.mkv
  build/megafs init --hidden              # a second, hidden volume
See 'build/megafs help', man -l man/megafs.1 and man -l man/megafs.7.
MSG
