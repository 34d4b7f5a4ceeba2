#!/usr/bin/env bash
# tools/bench/ingest.sh: end-to-end throughput of megafs ingest / extract,
# next to the crypto each path does per byte on one core (mfs-bench-crypto's
# model rows: megafs's own functions, in memory).
#
#   tools/bench/ingest.sh
#
# Environment:
#   BENCH_SIZE_MB     size of the random test file in MiB (default 1024)
#   BENCH_CRYPTO_MB   MiB per mfs-bench-crypto throughput test (default 1024)
#   BENCH_SENSITIVE   1: also time Argon2id "sensitive" (1 GiB, seconds)
#   BENCH_COLD_STORE  1: drop the page cache between init and each ingest
#                     (needs root). On kernels whose ext4 page cache uses
#                     large folios, the pages init writes stay in 1-4 MiB
#                     folios, and every 64 KiB slot LMDB dirties through its
#                     writable map then writes back a whole folio; a cold
#                     store faults in 4 KiB pages instead. Compare both.
#   BENCH_TMPDIR      where the throwaway stores and files go (default
#                     $TMPDIR or /tmp); it needs ~4x BENCH_SIZE_MB free
#
# Each ingest goes into a fresh store (megafs init --kdf fast, so unlocking
# costs nothing); extract reads back the random-mode store and its output is
# compared with the source (cmp). The source file is in the page cache when
# ingested (it was just written); the page cache is dropped before each
# extract when this process may do so (root), and the table says whether it
# was. extract runs twice: into /dev/null (its own speed, next to its
# crypto) and into a file (next to dd writing the same bytes to that disk).
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$script_dir/../.." && pwd)
build="$root/build"
size_mb=${BENCH_SIZE_MB:-1024}
crypto_mb=${BENCH_CRYPTO_MB:-1024}
sensitive=${BENCH_SENSITIVE:-0}
cold_store=${BENCH_COLD_STORE:-0}

die() { echo "ingest.sh: $*" >&2; exit 1; }
log() { echo "ingest.sh: $*" >&2; }

[[ $size_mb =~ ^[1-9][0-9]*$ ]] || die "BENCH_SIZE_MB must be a positive integer"
[[ $crypto_mb =~ ^[1-9][0-9]*$ ]] || die "BENCH_CRYPTO_MB must be a positive integer"

# --- build (make decides what is out of date) -------------------------------
# The revision measured: what the work tree holds when it is built.
rev=$(git -C "$root" describe --always --dirty 2>/dev/null || echo "?")
if [[ ! -f $build/CMakeCache.txt ]]; then
	log "configuring $build"
	cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
make -C "$build" -s megafs mfs-bench-crypto >/dev/null
megafs="$build/megafs"
bench="$build/mfs-bench-crypto"

# --- scratch space -----------------------------------------------------------
work=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/mfs-bench.XXXXXX")
cleanup() { rm -rf -- "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# A 1 MiB chunk seals to 1,048,832 bytes (16 segments of 64 KiB + 16-byte
# tags) and an object of that size takes 16 slots of 65,552 data bytes (one
# sealed segment each); mfs-bench-crypto --layout reads both from the
# headers. Add the index blob, the blob table and the superblock, then a
# tenth.
layout=$("$bench" --layout)
slot_data=$(awk '$1 == "slot_data" { print $2 }' <<<"$layout")
chunk_blob=$(awk '$1 == "chunk_blob" { print $2 }' <<<"$layout")
chunk_slots=$(( (chunk_blob + slot_data - 1) / slot_data ))
need_slots=$(( size_mb * chunk_slots + 4 * chunk_slots + 64 ))
store_mb=$(( (need_slots * 11 / 10 + 15) / 16 + 16 ))   # 16 nominal slots per MiB

# The store file is ~1.2x its size (LMDB tree and slack); the source and the
# extracted copy are size_mb each; only one store exists at a time.
free_mb=$(df -Pm "$work" | awk 'NR == 2 { print $4 }')
need_mb=$(( store_mb * 13 / 10 + 2 * size_mb + 64 ))
(( free_mb >= need_mb )) || die "$work has $free_mb MiB free, needs ~$need_mb MiB"

export MEGAFS_PASSWORD="bench-password"

mibps() { awk -v mb="$1" -v s="$2" 'BEGIN { printf "%.1f", mb / s }'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

new_store() {
	export MEGAFS_STORE="$work/store-$1"
	"$megafs" init --size "${store_mb}M" --kdf fast >/dev/null
	if [[ $cold_store == 1 ]]; then
		[[ $(drop_caches) == yes ]] || die "BENCH_COLD_STORE=1 needs to drop the page cache (root)"
		cat "$src" >/dev/null # the source stays hot, as without the option
	fi
}

drop_caches() {
	sync
	if { echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null; then
		echo yes
	else
		echo no
	fi
}

# --- crypto ceilings (first, while the disk is quiet) -------------------------
log "mfs-bench-crypto --size $crypto_mb"
bench_args=(--size "$crypto_mb")
[[ $sensitive == 1 ]] && bench_args+=(--sensitive)
bench_out=$("$bench" "${bench_args[@]}")
declare -A B
while read -r name value _; do
	B[$name]=$value
done <<<"$bench_out"

# --- the source file ---------------------------------------------------------
src="$work/source.bin"
log "writing $size_mb MiB of random data"
head -c "$((size_mb * 1048576))" /dev/urandom >"$src"

# --- ingest, convergent ------------------------------------------------------
log "ingest --mode convergent (store of ${store_mb}M)"
new_store conv
sync
t0=$EPOCHREALTIME
"$megafs" ingest "$src" --mode convergent >"$work/conv.json" 2>"$work/conv.log" ||
	{ cat "$work/conv.log" >&2; die "ingest --mode convergent failed"; }
t1=$EPOCHREALTIME
conv_s=$(secs "$t0" "$t1")
conv_free=$("$megafs" status | awk '$1 == "free" { print $2 }')
rm -rf -- "$MEGAFS_STORE"

# --- ingest, random ----------------------------------------------------------
log "ingest --mode random (fresh store)"
new_store rand
sync
t0=$EPOCHREALTIME
"$megafs" ingest "$src" --mode random >"$work/rand.json" 2>"$work/rand.log" ||
	{ cat "$work/rand.log" >&2; die "ingest --mode random failed"; }
t1=$EPOCHREALTIME
rand_s=$(secs "$t0" "$t1")

# --- extract (from the random-mode store) -----------------------------------
# Twice from a cold store: into /dev/null (the command's own speed, against
# its crypto) and into a file, synced and renamed (against the disk: the
# same bytes written by dd conv=fsync, the source in the page cache).
log "extract -o /dev/null"
dropped=$(drop_caches)
t0=$EPOCHREALTIME
# Through standard output: a build older than cd80d6d, run as root, renamed
# its output file over a device given as -o.
"$megafs" extract "$work/rand.json" -o - >/dev/null
t1=$EPOCHREALTIME
null_s=$(secs "$t0" "$t1")
log "extract -o FILE"
drop_caches >/dev/null
cat "$src" >/dev/null
out="$work/extracted.bin"
t0=$EPOCHREALTIME
"$megafs" extract "$work/rand.json" -o "$out"
t1=$EPOCHREALTIME
extr_s=$(secs "$t0" "$t1")
if cmp -s "$src" "$out"; then
	verdict="identical (cmp)"
else
	verdict="DIFFERENT from the source (cmp failed)"
fi
rm -rf -- "$MEGAFS_STORE" "$out"
log "dd conv=fsync (the disk's write)"
t0=$EPOCHREALTIME
dd if="$src" of="$out" bs=1M conv=fsync status=none
t1=$EPOCHREALTIME
dd_s=$(secs "$t0" "$t1")
rm -f -- "$out"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

conv_r=$(mibps "$size_mb" "$conv_s")
rand_r=$(mibps "$size_mb" "$rand_s")
extr_r=$(mibps "$size_mb" "$extr_s")
null_r=$(mibps "$size_mb" "$null_s")
dd_r=$(mibps "$size_mb" "$dd_s")
cache_note="page cache dropped before extract"
[[ $dropped == yes ]] || cache_note="page cache NOT dropped (no permission): extract read from memory"

cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
cores=$(nproc)

echo
echo "megafs $rev: $size_mb MiB random file, 1 MiB chunks; $cpu, $cores cores"
store_note="store pages left in the page cache by init"
[[ $cold_store == 1 ]] && store_note="page cache dropped between init and ingest"
echo "Ingest: source file in page cache, $store_note. Stores on $(df -P "$work" | awk 'NR == 2 { print $1 }'); $cache_note."
echo
# Each command next to the crypto its path does per byte, on one core, in
# memory (mfs-bench-crypto's model rows, through megafs's own functions):
# the issue's "one-core ceiling of the ciphers actually used".
printf "%-44s %9s %9s %12s %9s\n" "" "time (s)" "MiB/s" "model MiB/s" "x model"
row3() { printf "%-44s %9s %9s %12s %9s\n" "$1" "$2" "$3" "$4" "$(ratio "$3" "$4")"; }
row3 "megafs ingest --mode convergent" "$conv_s" "$conv_r" "${B[model_ingest_convergent]}"
row3 "megafs ingest --mode random" "$rand_s" "$rand_r" "${B[model_ingest_random]}"
row3 "megafs extract -o /dev/null (random-mode)" "$null_s" "$null_r" "${B[model_extract]}"
echo "(a model is one core's; the commands hash and seal on two threads and more, so they may pass 1.00)"
echo
printf "%-44s %9s %9s %12s %9s\n" "" "time (s)" "MiB/s" "disk MiB/s" "x disk"
printf "%-44s %9s %9s %12s %9s\n" "megafs extract -o FILE (synced)" "$extr_s" "$extr_r" "$dd_r" \
	"$(ratio "$extr_r" "$dd_r")"
echo "(disk: dd conv=fsync of the same bytes from the page cache to that disk, this run)"
echo
echo "extract output: $verdict"
echo "free slots after the convergent ingest: $conv_free (store of ${store_mb}M)"
echo
echo "One core, 1 MiB buffers in memory (mfs-bench-crypto, $crypto_mb MiB per test):"
line() { printf "  %-58s %9s MiB/s\n" "$1" "${B[$2]}"; }
line "ChaCha20-Poly1305 seal (mfs_aead_seal)" aead_seal
line "ChaCha20-Poly1305 open (mfs_aead_open)" aead_open
line "ChaCha20 alone (mfs_aead_decrypt_unchecked)" aead_decrypt_unchecked
line "a slot's four pieces sealed, 16 KiB messages" aead_pieces_16k
line "SHA-256 blob id (mfs_blob_id)" blob_id
line "HMAC-SHA-256, a convergent key (mfs_hmac_sha256)" hmac_sha256
line "blob seal + id, no volume (mfs_aead_seal + mfs_blob_id)" ceiling
line "mfs_chunk_seal + mfs_blob_id, random key" seal_random
line "mfs_chunk_seal + mfs_blob_id, convergent key" seal_convergent
line "mfs_chunk_open_range, whole chunk (tags checked)" chunk_open
line "model: ingest --mode random (blob + slots sealed)" model_ingest_random
line "model: ingest --mode convergent" model_ingest_convergent
line "model: extract (slots opened + chunk opened)" model_extract
line "model: a mount's read (slots opened + ChaCha20 alone)" model_read
line "libsodium XChaCha20-Poly1305 encrypt (the reference)" xchacha20poly1305_encrypt
line "libsodium BLAKE2b-256" blake2b256
line "libsodium SHA-256" sha256_libsodium
echo
echo "Argon2id unlock (mfs_kdf_password, median):"
for p in interactive moderate sensitive; do
	[[ -n ${B[argon2id_$p]:-} ]] || continue
	printf "  %-50s %9s ms\n" "$p (${B[argon2id_${p}_ops]} passes, ${B[argon2id_${p}_mem]} MiB)" \
		"${B[argon2id_$p]}"
done
[[ $sensitive == 1 ]] || echo "  sensitive (1 GiB): not run; BENCH_SENSITIVE=1 to include it"
