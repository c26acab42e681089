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
echo "check-src: ok"
