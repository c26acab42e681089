#!/bin/sh
# Bans functions that have caused overflows in this field (curl's checksrc
# idea): each has a bounded replacement used everywhere in the tree.
set -eu
cd "$(dirname "$0")/.."
banned='\b(sprintf|vsprintf|strcpy|strcat|strncpy|strncat|strtok|gets|atoi|atol)[[:space:]]*\('
if grep -nE "$banned" --include='*.c' --include='*.h' -r app capture common dissectors output tests; then
    echo "check-src: banned function used (see above)" >&2
    exit 1
fi
# Every allocation of the project goes through common/alloc.h, so that
# tests/alloc can fail each one; the tests themselves may use libc's.
alloc='(^|[^_[:alnum:]])(malloc|calloc|realloc|strdup|strndup)[[:space:]]*\('
if grep -nE "$alloc" --include='*.c' --include='*.h' -r app capture common dissectors output |
    grep -v '^common/alloc\.c:'; then
    echo "check-src: allocate with ms_malloc, ms_calloc, ms_realloc, ms_strdup (common/alloc.h)" >&2
    exit 1
fi
# JSON member names are written unescaped (output/jsonw.h): every name
# literal passed to the JSON writer or json.c's helpers must need no
# escape (no backslash sequence, hence no quote or control byte).
names='(ms_jw_[a-z_]+|add_[a-z_]+)\((w|jw), "[^"]*\\'
if grep -nE "$names" output/*.c app/*.c; then
    echo "check-src: a JSON member name needs an escape (see above)" >&2
    exit 1
fi
echo "check-src: ok"
