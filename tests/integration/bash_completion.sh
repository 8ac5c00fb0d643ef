#!/bin/bash
# The bash completion the build generates (build/doc/mmhint.bash, installed
# as share/bash-completion/completions/mmhint): source it in a fresh bash and
# complete subcommands, option names, KEY= of the option table and an enum's
# values, as bash would call it.
source "$(dirname "$0")/lib.sh"
mh_init bash_completion
comp=$MMHINT_BUILD_DIR/doc/mmhint.bash
[ -f "$comp" ] || { mh_fail "$comp is missing: build the mmhint_docs target"; mh_done; }

# complete LINE: the candidates bash would offer with the cursor at the end.
complete_line() {
  bash --norc --noprofile -c '
    source "$1" || exit 3
    COMP_LINE=$2 COMP_POINT=${#2}
    read -ra COMP_WORDS <<< "$COMP_LINE"
    [[ $COMP_LINE == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
    _mmhint mmhint "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf "%s\n" "${COMPREPLY[@]}"' _ "$comp" "$1"
}

# expect LINE WORD...: every WORD is among the candidates.
expect() {
  local line=$1 got w; shift
  got=$(complete_line "$line")
  for w in "$@"; do
    grep -qxF -- "$w" <<< "$got" || mh_fail "completing '$line': no '$w' among: $(echo $got)"
  done
}

expect "mmhint " run explain ab report top advise tune demo --version
expect "mmhint r" run report
expect "mmhint run --s" --set --stats
expect "mmhint ab --pl" --plain-a
expect "mmhint run --set read_mmap_m" read_mmap_min_file= read_mmap_max_read= read_mmap_max_mapped=
# bash splits the word at '=' (COMP_WORDBREAKS), so a value is offered without its KEY=.
expect "mmhint run --set read_mmap=" on off auto
expect "mmhint ab --b advice=none,mmap_advice=hu" hugepage
expect "mmhint report --sort " bytes time reads
got=$(complete_line "mmhint run --config /etc/host")
grep -qx /etc/hostname <<< "$got" || [ ! -e /etc/hostname ] || mh_fail "--config does not complete files: $got"
got=$(complete_line "mmhint run -- ca")
grep -qx cat <<< "$got" || mh_fail "the command after -- does not complete from PATH: $(echo $got)"
[ -z "$(complete_line "mmhint run --set nosuch")" ] || mh_fail "an unknown key prefix completed to something"
mh_done
