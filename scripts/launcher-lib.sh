# Functions both launchers (./vitrim, ./vitrim-spark) share; sourced, never run.

# The feature version of a java binary (8 for "1.8.0_x"), or nothing when it does not say. A JDK's
# release file answers without starting a JVM; the version line is found even after a
# "Picked up JAVA_TOOL_OPTIONS" line.
java_major() {
  local line="" v1 v2 home
  home="$(dirname "$(dirname "$(readlink -f "$1")")")"
  if [[ -f "$home/release" ]]; then
    line="$(grep -m1 '^JAVA_VERSION=' "$home/release" 2>/dev/null | sed -E 's/^JAVA_VERSION="?([^"]*)"?/version "\1"/')" || line=""
  fi
  [[ -n "$line" ]] || line="$("$1" -version 2>&1 | grep -m1 ' version "')" || return 0
  read -r v1 v2 <<<"$(sed -E 's/.*version "([0-9]+)(\.([0-9]+))?.*/\1 \3/' <<<"$line")"
  [[ "$v1" == "1" ]] && v1="${v2:-0}"
  [[ "$v1" =~ ^[0-9]+$ ]] && echo "$v1"
  return 0
}

# The JVM prints a warning about the incubating Vector API on every start (after its start-up
# notices, such as "Picked up JAVA_TOOL_OPTIONS"): drop that one line and pass the rest through unbuffered — a
# line filter would hold back the progress lines a terminal gets, redrawn with \r and no newline.
drop_vector_warning() {
  local l
  while IFS= read -r l; do
    case $l in
      'WARNING: Using incubator modules: jdk.incubator.vector') exec cat ;;
      'Picked up '* | 'NOTE: Picked up '* | *' VM warning: '*) printf '%s\n' "$l" ;; # start-up notices come first
      *) printf '%s\n' "$l"; exec cat ;;
    esac
  done
  printf '%s' "$l"
}
