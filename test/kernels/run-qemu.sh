#!/usr/bin/env bash
# Run the test kernels under QEMU TCG and print their results.
#
#   ./run-qemu.sh [--no-skip] [kernel ...]     (default: every bin/*.elf)
#
# Each kernel prints "ok <name>" / "not ok <name>: ..." lines and "done p/t" on port 0xE9,
# then writes 0 (all passed) or 1 to the isa-debug-exit port 0xF4, so QEMU exits with
# 1 (pass) or 3 (fail). triplefault must end in a shutdown instead: with -no-reboot QEMU
# exits with 0.
#
# QEMU's TCG deviates from the SDM on a few checks (see README.md, "QEMU deviations").
# Those are passed to the kernel as "skip=a,b,c" on the multiboot command line; the kernel
# prints "skip <name>: ..." for them and leaves them out of the count. --no-skip runs
# everything (expect those checks to fail, and modes to stop early).
set -u
cd "$(dirname "$0")"

QEMU=${QEMU:-qemu-system-x86_64}
TIMEOUT=${TIMEOUT:-30}
NO_SKIP=0
if [ "${1:-}" = "--no-skip" ]; then NO_SKIP=1; shift; fi

qemu_version=$($QEMU --version | sed -n 's/.*version \([0-9]*\)\.\([0-9]*\).*/\1 \2/p' | head -1)
qemu_major=${qemu_version%% *}

declare -A SKIP
# modes: TCG does not check segment limits, expand-down limits, null-selector use or
# write permission on data accesses.
SKIP[modes]="pm-data-segment-limit-gp,pm-stack-segment-limit-ss,pm-expand-down-segment,pm-null-selector-use-gp,pm-segment-write-protection"
# modes: TCG lets WRMSR change EFER.LME with paging on, lets MOV CR0 clear PG in 64-bit
# mode and set PG with LME=1/PAE=0 (the last two wreck the machine, so they run last).
SKIP[modes]+=",lm-efer-lme-change-with-paging-gp,lm-clear-cr0-pg-in-64bit-mode-gp,lm-cr0-pg-needs-pae-gp"
# paging / legacy32: TCG (since 7.1) reports reserved-bit #PF with P=0.
SKIP[paging]="pf-rsvd-sets-p-flag"
SKIP[legacy32]="pf32-rsvd-sets-p-flag"
# syscall: TCG drops the arithmetic flags on SYSCALL, returns 0 / ignores unknown MSRs,
# and accepts a non-canonical FS_BASE.
SKIP[syscall]="syscall-keeps-unmasked-flags,rdmsr-wrmsr-unknown-msr-gp,wrmsr-fs-base-non-canonical-gp"
# interrupts: before QEMU 8.0 an IDT-gate error code in long mode was vector*16+2.
SKIP[interrupts]=""
if [ -n "$qemu_major" ] && [ "$qemu_major" -lt 8 ]; then
    SKIP[interrupts]="idt-gate-error-code-index"
fi

if [ $# -gt 0 ]; then
    kernels=("$@")
else
    kernels=()
    for f in bin/*.elf; do kernels+=("$(basename "$f" .elf)"); done
fi

failed=0
summary=()
for k in "${kernels[@]}"; do
    elf=bin/$k.elf
    if [ ! -f "$elf" ]; then
        echo "no such kernel: $elf" >&2
        failed=1
        continue
    fi
    append=""
    if [ $NO_SKIP = 0 ] && [ -n "${SKIP[$k]:-}" ]; then append="skip=${SKIP[$k]}"; fi
    echo "=== $k${append:+ ($append)}"
    out=$(timeout "$TIMEOUT" "$QEMU" -cpu max -m 32 -nographic -no-reboot -kernel "$elf" \
        ${append:+-append "$append"} -debugcon stdio \
        -device isa-debug-exit,iobase=0xf4,iosize=0x04 -display none -monitor none -serial none 2>&1)
    rc=$?
    echo "$out"
    if [ "$k" = triplefault ]; then
        if [ $rc = 0 ] && grep -q '^about to triple fault' <<<"$out" && ! grep -q '^done' <<<"$out"; then
            result="PASS (shutdown)"
        else
            result="FAIL (exit $rc, expected a shutdown)"
            failed=1
        fi
    else
        done_line=$(grep '^done ' <<<"$out" | tail -1)
        if [ $rc = 1 ]; then
            result="PASS ($done_line)"
        elif [ $rc = 124 ]; then
            result="FAIL (timeout after ${TIMEOUT}s${done_line:+, $done_line})"
            failed=1
        else
            result="FAIL (exit $rc${done_line:+, $done_line})"
            failed=1
        fi
    fi
    summary+=("$(printf '%-12s %s' "$k" "$result")")
done

echo "=== summary ($($QEMU --version | head -1))"
printf '%s\n' "${summary[@]}"
exit $failed
