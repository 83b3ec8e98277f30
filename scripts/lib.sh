# Helpers the result scripts share (sourced: . scripts/lib.sh).

# atomic FILE CMD...: CMD's standard output into FILE, whole or not at all (a failed or killed
# command leaves the previous FILE, never a truncated one)
atomic() {
  local f=$1 rc=0
  shift
  "$@" > "$f.tmp" || rc=$?
  if [ "$rc" = 0 ]; then mv "$f.tmp" "$f"; else rm -f "$f.tmp"; return "$rc"; fi
}

# data_dir SCRIPT DIR: DIR as an absolute path, or a one-line error naming it and exit code 2
data_dir() {
  [ -d "$2" ] || { echo "$1: $2: no such folder (the data sets live beside the repo, in ../shared/data)" >&2; exit 2; }
  (cd "$2" && pwd)
}
