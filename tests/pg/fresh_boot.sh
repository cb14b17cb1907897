#!/usr/bin/env bash
# Runs a command as if the machine had booted a few seconds ago: a time namespace moves
# CLOCK_MONOTONIC (std::chrono::steady_clock) and CLOCK_BOOTTIME back by the machine's uptime
# less 5 s, and CONVLAB_EXPECT_YOUNG_CLOCK=1 lets the tests check that it did. Code that takes a
# default-constructed steady time point for "long ago" fails there, as it would on a CI machine
# started minutes before its run (issue 12).   Usage: fresh_boot.sh CMD [ARGS...]
set -euo pipefail
up=$(cut -d. -f1 /proc/uptime)
back=$((up > 5 ? up - 5 : 0))
flags=(-T "--monotonic=-$back" "--boottime=-$back")
# Without root a user namespace is needed to make a time namespace.
[ "$(id -u)" -eq 0 ] || flags=(-r "${flags[@]}")
export CONVLAB_EXPECT_YOUNG_CLOCK=1
exec unshare "${flags[@]}" "$@"
