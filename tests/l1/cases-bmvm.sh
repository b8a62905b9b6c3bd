# bmvm integration cases, run inside the emulated arm64 KVM host by
# tests/l1/run-integration. Guests live in /payload/guests; each test kernel
# prints "<name>: PASS" and exits through the bmvm test device.
G=/payload/guests
B=/payload/bad

run_case version 0 10 '^bmvm [0-9]' -- bmvm --version
run_case help 0 10 '--timeout SEC' -- bmvm --help

# --- test kernels ----------------------------------------------------------
run_case hello 0 60 'hello: PASS' -- bmvm $G/hello.elf --cpus 1
run_case hello-highva 0 60 'hello-highva: PASS' -- bmvm $G/hello-highva.elf --cpus 1
for n in 1 2 4; do
	run_case smp-$n 0 60 "smp: $n cpus online" -- bmvm $G/smp.elf --cpus $n
	grep -q 'smp: PASS' "$CASE_OUT" || fail smp-$n-pass "no 'smp: PASS'" "$CASE_OUT"
done
run_case vtimer 0 60 'vtimer: PASS' -- bmvm $G/vtimer.elf --cpus 1
run_case isv0 0 60 'isv0: PASS' -- bmvm $G/isv0.elf --cpus 1
run_case exit-status 42 60 'exiting with 42' -- bmvm $G/exitcode.elf --cpus 1
run_case timeout 124 60 'still running after 2 s' -- bmvm $G/hang.elf --cpus 2 --timeout 2
run_case reset-reboot 0 60 'reset: PASS' -- bmvm $G/reset.elf --cpus 2
run_case_not reset-exit 0 60 'back after' -- bmvm $G/reset.elf --cpus 2 --on-reset exit
run_case mmio-unemulatable 1 60 'cannot emulate the access' -- bmvm $G/mmio-bad.elf --cpus 1

# --- Debian's arm64 Linux as a guest ---------------------------------------
for n in 1 2; do
	run_case linux-$n 0 180 "L2 LINUX UP $n" -- bmvm /payload/Image \
		--initrd /payload/l2-initrd.cpio.gz --cmdline "console=ttyAMA0" --cpus $n --ram 256
	metric linux_${n}cpu_poweroff "$CASE_SECS" s
done

# --- bad input: one clear line, exit 2, no crash ---------------------------
run_case bad-missing 2 10 "cannot open kernel '/nope'" -- bmvm /nope
run_case bad-directory 2 10 'not a regular file' -- bmvm /payload
run_case bad-empty 2 10 'empty' -- bmvm $B/empty
run_case bad-truncated 2 10 'kernel .*truncated.elf' -- bmvm $B/truncated.elf
run_case bad-garbage 2 10 '--format raw' -- bmvm $B/garbage.bin
run_case bad-gzip 2 10 'gunzip' -- bmvm $B/compressed.gz
run_case bad-below-ram 2 10 'outside RAM' -- bmvm $B/below-ram.elf
run_case bad-too-small-ram 2 10 'use --ram' -- bmvm /payload/Image --ram 16
run_case bad-ram-word 2 10 "--ram: 'lots'" -- bmvm $G/hello.elf --ram lots
run_case bad-cpus 2 10 "--cpus: '0'" -- bmvm $G/hello.elf --cpus 0
run_case bad-option 2 10 "unknown option '--bogus'" -- bmvm $G/hello.elf --bogus
run_case bad-initrd 2 10 "cannot open initrd" -- bmvm /payload/Image --initrd /nope
run_case_not no-crash-seen any 10 'Segmentation|Aborted|Illegal' -- cat /tmp/*.out

# --- device tree -----------------------------------------------------------
run_case dump-dtb 0 10 '^d00dfeed$' -- sh -c \
	'bmvm --dump-dtb /tmp/virt.dtb --cpus 2 && od -An -tx1 -N4 /tmp/virt.dtb | tr -d " "'
