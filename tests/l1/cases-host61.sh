# Smoke cases on Debian 12's own kernel (6.1) as the emulated host, run by
# tests/l1/run-integration after the full suite on bookworm-backports' 6.12
# (BMVM_L1_KERNEL=61): a 6.1 host has no SMCCC filter, so KVM answers PSCI
# itself, and its vGIC before 6.7 routes timers by creation order. A few
# cases keep that path green: bare metal with 1 to 4 vCPUs and Debian's
# Linux with 2. Names start with host61- to tell them from the full run's.
G=/payload/guests

run_case host61-hello 0 60 'hello: PASS' -- bmvm $G/hello.elf --cpus 1
for n in 2 4; do
	run_case host61-smp-$n 0 60 "smp: $n cpus online" -- bmvm $G/smp.elf --cpus $n
	grep -q 'smp: PASS' "$CASE_OUT" || fail host61-smp-$n-pass "no 'smp: PASS'" "$CASE_OUT"
done
run_case host61-linux-2 0 90 'L2 LINUX UP 2' -- bmvm /payload/Image \
	--initrd /payload/l2-initrd.cpio.gz --cmdline "console=ttyAMA0" --cpus 2 --ram 256 -v
metric host61_linux_2cpu_poweroff "$CASE_SECS" s
grep -q 'PSCI answered by kernel' "$CASE_OUT" ||
	fail host61-linux-2-psci-kernel "PSCI was not KVM's own on $(uname -r)" "$CASE_OUT"
# The bare-metal guests end through the test device here: no exit call reaches bmvm.
run_case host61-exit-no-call 3 60 'injecting an external abort' -- bmvm $G/mmio-bad.elf --cpus 1 -v
grep -q 'exit call' "$CASE_OUT" && fail host61-exit-no-call-testdev "an exit call reached bmvm" "$CASE_OUT"
# The control API says who answers PSCI.
run_case host61-inspect-psci 0 60 '"psci": "kernel"' -- sh -c \
	"bmvm $G/ticker.elf --cpus 2 --api-socket /tmp/api61.sock >/tmp/api61.out 2>&1 & pid=\$!
	 i=0; while ! grep -q 'tick 1 ' /tmp/api61.out && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i + 1)); done
	 bmvm ctl --socket /tmp/api61.sock inspect
	 bmvm ctl --socket /tmp/api61.sock hard-stop; wait \$pid"

# KVM's SMCCC filter (Linux 6.4+) is what lets bmvm take PSCI in userspace:
# tests/l1/kvmprobe must not find it here, and KVM must answer the call.
run_case host61-kvm-smccc-filter 0 30 '^PSCI_HVC kernel: ' -- /payload/kvmprobe
grep -q '^SMCCC_FILTER unavailable' "$CASE_OUT" ||
	fail host61-kvm-smccc-filter-absent "kvmprobe found an SMCCC filter on $(uname -r)" "$CASE_OUT"
grep -E '^(SMCCC_FILTER|PSCI_HVC)' "$CASE_OUT" | sed 's/^/    kvmprobe: /'
