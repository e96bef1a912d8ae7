#!/usr/bin/env bash
# Run the VMX test kernels on Bochs (a second, independent VMX implementation) and print
# their output:  ./run-bochs.sh [kernel ...]     (default: vmxbasic vmxguest32 vmxfail)
# Needs Debian's bochs (built with VMX and EPT) and `make bochs` (disk images in build/).
# CPU=<bochs cpu model> overrides the default model.
set -u
cd "$(dirname "$0")"
CPU=${CPU:-corei7_skylake_x}
TIMEOUT=${TIMEOUT:-120}
make -s bochs >/dev/null || exit 1
status=0
for k in "${@:-vmxbasic vmxguest32 vmxfail}"; do
  for kk in $k; do
    echo "=== $kk (bochs, cpu $CPU)"
    log=build/$kk.bochs.log
    rc=build/$kk.bochsrc
    sed -e "s|\$CPU|$CPU|" -e "s|\$IMAGE|build/$kk.img|" -e "s|\$LOG|$log|" bochs/bochsrc.txt > "$rc"
    # Debian's bochs has the internal debugger: continue at once, quit when the simulation ends
    printf 'c\nquit\n' > build/bochs-debugger.rc
    out=$(timeout "$TIMEOUT" bochs -q -f "$rc" -rc build/bochs-debugger.rc 2>&1 < /dev/null)
    # port_e9_hack output goes to Bochs's stderr/stdout mixed with its own messages
    printf '%s\n' "$out" | grep -E '^(PASS|FAIL|done|\[guest\]|not ok)' || { printf '%s\n' "$out" | tail -20; status=1; }
    printf '%s\n' "$out" | grep -q '^FAIL' && status=1
  done
done
exit $status
