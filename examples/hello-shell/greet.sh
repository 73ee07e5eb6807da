#!/bin/sh
echo "$GREETING"
echo "lines written at build time: $(cat count.txt)"
for f in $(ls /app | sort); do echo "  /app/$f"; done
printf '%s\n' banana apple cherry | sort | head -n 2 | tr a-z A-Z
