# Shared by the integration scripts: a private temporary directory, the
# binary under test, and assertions that print what went wrong.
set -euo pipefail

MEGAFS=${1:?usage: $0 path/to/megafs}
MEGAFS=$(readlink -f "$MEGAFS")
T=$(mktemp -d /tmp/mfs-it-XXXXXX)
trap 'rm -rf "$T"' EXIT
export MEGAFS_STORE="$T/store"
export MEGAFS_PASSWORD="correct horse battery staple"
unset MEGAFS_PROTECT_PASSWORD MEGAFS_NEW_PASSWORD XDG_DATA_HOME

passes=0
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { passes=$((passes + 1)); echo "ok $passes - $*"; }
megafs() { "$MEGAFS" "$@"; }

# expect_fail "message part" cmd...: the command must fail and say that.
expect_fail() {
	local want=$1 out
	shift
	if out=$("$@" 2>&1); then fail "expected failure: $*"; fi
	grep -qF -- "$want" <<<"$out" || fail "'$*' said '$out', expected '$want'"
	echo "   error shown: $(head -1 <<<"$out")"
}

# random_file PATH BYTES
random_file() { head -c "$2" /dev/urandom >"$1"; }

finish() { echo "$passes passed, 0 failed"; }
