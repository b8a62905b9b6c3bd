# Smoke cases: check the L1 host itself, not bmvm's behaviour. Work with any
# static aarch64 binary as /bin/bmvm (tests/l1/smoke uses kvmprobe).

run_case kvm-node 0 5 '' -- test -c /dev/kvm
# Opening for read/write is what a VMM does first.
run_case kvm-open 0 5 '' -- sh -c 'exec 3<>/dev/kvm'
run_case arch 0 5 '^aarch64$' -- uname -m
run_case cpus 0 5 '' -- sh -c "[ \$(grep -c ^processor /proc/cpuinfo) -ge 1 ]"
run_case bmvm-version 0 10 '.' -- /bin/bmvm --version
run_case_not bmvm-no-crash any 10 'Segmentation fault|Illegal instruction' -- /bin/bmvm --version

# When the stand-in is kvmprobe, record what KVM offers (API 12 is fixed).
if grep -q kvmprobe /tmp/bmvm-version.out; then
	run_case kvmprobe 0 20 '^KVM_GET_API_VERSION 12$' -- /bin/bmvm
	sed 's/^/    kvmprobe: /' "$CASE_OUT"
	metric kvmprobe_time "$CASE_SECS" s
fi

# The payload arrives intact (tests/l1/smoke ships the L2 kernel + initrd).
if [ -e /payload/Image ]; then
	run_case payload-image 0 5 '^41524d64$' -- sh -c 'od -An -tx1 -j56 -N4 /payload/Image | tr -d " "'
fi

metric l1_uptime_at_end "$(now)" s
