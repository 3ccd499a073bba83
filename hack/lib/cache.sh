# The cache of built binaries outside the checkout, shared by
# hack/cluster/build.sh, hack/seaweedfs/build.sh and hack/kueue/build.sh: a
# fresh clone (CI) links a binary from there instead of building it again.
# Source it; it sets cache_dir and defines functions only.
#
# cache_dir is ${LCFT_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/lcft-operator},
# empty when LCFT_CACHE_DIR=off (no cache).
cache_dir="${LCFT_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/lcft-operator}"
[[ "${cache_dir}" == off ]] && cache_dir=""

# link_or_copy SRC DST: DST becomes SRC's content (a hard link when possible),
# replaced atomically.
link_or_copy() {
  local tmp="$2.tmp.$$"
  { ln -f "$1" "${tmp}" 2>/dev/null || cp -f "$1" "${tmp}"; } && mv -f "${tmp}" "$2"
}

# to_cache FILE REL: keep a copy of FILE at REL under the cache (best effort:
# a read-only HOME is no error).
to_cache() {
  [[ -n "${cache_dir}" ]] || return 0
  mkdir -p "$(dirname "${cache_dir}/$2")" 2>/dev/null && link_or_copy "$1" "${cache_dir}/$2" 2>/dev/null || true
}
