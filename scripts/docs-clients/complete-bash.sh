#!/bin/bash
# What bash offers on <TAB> after the given words (docs/completion.md): loads `lbdiag completion bash`
# and calls its completion function as bash's programmable completion would, candidates two spaces apart.
source <(lbdiag completion bash)
COMP_WORDS=("$@")
COMP_CWORD=$(($# - 1))
COMP_LINE="$*"
COMP_POINT=${#COMP_LINE}
_lbdiag_completion
out=""
for c in "${COMPREPLY[@]}"; do out+="${out:+  }$c"; done
printf '%s\n' "$out"
