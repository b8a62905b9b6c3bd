# SPDX-License-Identifier: MIT
# bmvm benchmarks, run inside the emulated arm64 KVM host by bench/run
# (through tests/l1/run, which sources tests/l1/harness.sh first). Prints
# RESULT lines for each run that worked and METRIC lines for the figures;
# bench/run turns the METRIC lines into a table. Busybox tools only.
#
# Payload: /payload/guests/*.elf, /payload/kvm-bare, /payload/Image,
# /payload/l2-initrd.cpio.gz. BENCH_RUNS sets the runs per figure (median).
# Only runs that passed give figures: a failed run is a RESULT FAIL, and
# its numbers (if it printed any) go nowhere.
G=/payload/guests
BARE=/payload/kvm-bare
RUNS=${BENCH_RUNS:-5}
LINUX="bmvm /payload/Image --initrd /payload/l2-initrd.cpio.gz --cpus 1 --ram 256"

# median FILE: the median of the numbers in FILE, one per line ("" if none).
median() {
	sort -n "$1" | awk '{ v[NR] = $1 }
		END { if (NR) printf "%g", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ratio A B: A / B to three places, "" if either is missing.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b > 0) printf "%.3f", a / b }'
}

# metric_if NAME VALUE UNIT: a metric, unless the value could not be had.
metric_if() {
	[ -z "$2" ] || metric "$1" "$2" "$3"
}

# cs: CS = /proc/uptime in integer centiseconds, so ash arithmetic can time
# things with builtins alone, no fork (the uptime is far above 1 s here, so
# no leading zero turns it octal).
cs() {
	read -r _cs_up _ </proc/uptime
	CS=${_cs_up%.*}${_cs_up#*.}
}

# --- 1. one MMIO exit: bmvm against a bare KVM_RUN loop --------------------
# The guest times N exits itself; runs interleave so drift in the emulated
# host hits every variant alike.
mmio_one() {	# mmio_one NAME RUN cmd...: appends the guest's ns/exit to /tmp/NAME.ns
	_n=$1 _r=$2
	shift 2
	run_case "$_n-$_r" 0 120 'mmio-loop: [0-9]+ exits' -- "$@"
	[ "$CASE_OK" = 1 ] || return 0
	sed -n 's/.*(\([0-9][0-9]*\) ns\/exit).*/\1/p' "$CASE_OUT" >>"/tmp/$_n.ns"
}

rm -f /tmp/mmio-*.ns
i=1
while [ "$i" -le "$RUNS" ]; do
	mmio_one mmio-bmvm "$i" bmvm $G/mmio-loop.elf --cpus 1 --ram 64
	mmio_one mmio-bare-gic "$i" $BARE --gic $G/mmio-loop.elf
	mmio_one mmio-bare "$i" $BARE $G/mmio-loop.elf
	i=$((i + 1))
done
grep -m1 'mmio-loop:' /tmp/mmio-bmvm-1.out 2>/dev/null | sed 's/^/INFO bmvm run 1: /'
mmio_bmvm=$(median /tmp/mmio-bmvm.ns)
mmio_gic=$(median /tmp/mmio-bare-gic.ns)
mmio_bare=$(median /tmp/mmio-bare.ns)
metric_if mmio_exit_bmvm "$mmio_bmvm" ns
metric_if mmio_exit_bare_gic "$mmio_gic" ns
metric_if mmio_exit_bare "$mmio_bare" ns
metric_if mmio_ratio_bmvm_vs_bare_gic "$(ratio "$mmio_bmvm" "$mmio_gic")" x
metric_if mmio_ratio_bmvm_vs_bare "$(ratio "$mmio_bmvm" "$mmio_bare")" x
# Noise in the emulated host only ever adds time: the fastest run of each is
# the other fair estimate.
for _v in bmvm bare-gic bare; do
	[ ! -s "/tmp/mmio-$_v.ns" ] ||
		metric "mmio_exit_$(echo "$_v" | tr - _)_min" "$(sort -n "/tmp/mmio-$_v.ns" | head -n1)" ns
done

# --- 2. Linux boot time and memory, 3. VMM memory overhead -----------------
# watch NAME TIMEOUT MARKER -- cmd...: runs cmd in the background. A reader
# on a FIFO stamps the first line holding MARKER as it arrives; every ~20 ms
# the loop reads /proc/PID/status with shell builtins only (no fork, so the
# watcher barely competes with the VMM). Sets W_RC, W_MARK and W_END (s from
# start to the marker and to exit; W_MARK "" if never seen), and W_HWM,
# W_ANON, W_FILE (KiB: VmHWM, and the largest RssAnon/RssFile seen), and
# W_UT, W_ST, W_GT (CPU ticks: user incl. guest, system, guest). With
# W_SNAP=FILE set, copies /proc/PID/smaps there 1 s into the run.
watch() {
	_wn=$1 _wt=$2 _wm=$3
	shift 4
	_wo=/tmp/$_wn.out _wf=/tmp/$_wn.fifo _wk=/tmp/$_wn.mark
	rm -f "$_wf" "$_wk"
	mkfifo "$_wf"
	while IFS= read -r _l; do
		case $_l in *"$_wm"*) [ -e "$_wk" ] || { cs; echo "$CS" >"$_wk"; } ;; esac
		printf '%s\n' "$_l"
	done <"$_wf" >"$_wo" &
	_wr=$!
	cs
	_w0=$CS
	"$@" >"$_wf" 2>&1 </dev/null &
	_wp=$!
	W_HWM=0 W_ANON=0 W_FILE=0 W_UT=0 W_ST=0 W_GT=0 _ws=${W_SNAP:-}
	while watch_poll "$_wp"; do
		cs
		if [ $((CS - _w0)) -ge $((_wt * 100)) ]; then
			kill -9 "$_wp" 2>/dev/null
			break
		fi
		if [ -n "$_ws" ] && [ $((CS - _w0)) -ge 100 ]; then
			cat "/proc/$_wp/smaps" >"$_ws" 2>/dev/null
			_ws=''
		fi
		usleep 20000
	done
	wait "$_wp"
	W_RC=$?
	cs
	_w1=$CS
	wait "$_wr"
	W_END=$(awk -v c=$((_w1 - _w0)) 'BEGIN { printf "%.2f", c / 100 }')
	W_MARK=''
	[ ! -s "$_wk" ] ||
		W_MARK=$(awk -v c=$(($(cat "$_wk") - _w0)) 'BEGIN { printf "%.2f", c / 100 }')
	CASE_OUT=$_wo
}

# watch_poll PID: one memory sample; false once PID has exited (a zombie has
# no memory lines left, and a reaped one no status file).
watch_poll() {
	[ -r "/proc/$1/status" ] || return 1
	# stat fields 14, 15, 43: utime, stime, guest_time (USER_HZ ticks)
	# shellcheck disable=SC2034  # the _ are placeholders
	read -r _ _ _ _ _ _ _ _ _ _ _ _ _ _ut _stt _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ \
		_gt _ <"/proc/$1/stat" 2>/dev/null && W_UT=$_ut W_ST=$_stt W_GT=$_gt
	_st=''
	while read -r _k _v _; do
		case $_k in
		State:) _st=$_v ;;
		VmHWM:) W_HWM=$_v ;;
		RssAnon:) [ "$_v" -le "$W_ANON" ] || W_ANON=$_v ;;
		RssFile:) [ "$_v" -le "$W_FILE" ] || W_FILE=$_v ;;
		esac
	done <"/proc/$1/status" 2>/dev/null
	[ -n "$_st" ] && [ "$_st" != Z ]
}

# linux_boot NAME RUNS CMDLINE: RUNS boots; medians of start->marker,
# start->exit and of the memory figures go out as NAME_* metrics.
linux_boot() {
	_ln=$1 _lr=$2 _lc=$3
	rm -f "/tmp/$_ln.mark-s" "/tmp/$_ln.end-s" "/tmp/$_ln.hwm" "/tmp/$_ln.anon" \
		"/tmp/$_ln.file" "/tmp/$_ln.cpu" "/tmp/$_ln.first-ok"
	i=1
	while [ "$i" -le "$_lr" ]; do
		# shellcheck disable=SC2086  # LINUX is a word list
		watch "$_ln-$i" 180 'L2 LINUX UP 1' -- $LINUX --cmdline "$_lc"
		if [ "$W_RC" -ne 0 ] || [ -z "$W_MARK" ]; then
			fail "$_ln-$i" "exit status $W_RC, marker time '${W_MARK}'" "$CASE_OUT"
		else
			pass "$_ln-$i" "$W_END"
			[ -s "/tmp/$_ln.first-ok" ] || echo "$CASE_OUT" >"/tmp/$_ln.first-ok"
			echo "$W_MARK" >>"/tmp/$_ln.mark-s"
			echo "$W_END" >>"/tmp/$_ln.end-s"
			echo "$W_HWM" >>"/tmp/$_ln.hwm"
			echo "$W_ANON" >>"/tmp/$_ln.anon"
			echo "$W_FILE" >>"/tmp/$_ln.file"
			# bmvm's own CPU: user time less the guest's share of it
			echo "$((W_UT - W_GT)) $W_ST $W_GT" >>"/tmp/$_ln.cpu"
		fi
		i=$((i + 1))
	done
	[ -s "/tmp/$_ln.end-s" ] || return 0
	metric "${_ln}_to_marker" "$(median "/tmp/$_ln.mark-s")" s
	metric "${_ln}_to_exit" "$(median "/tmp/$_ln.end-s")" s
	metric "${_ln}_to_marker_min" "$(sort -n "/tmp/$_ln.mark-s" | head -n1)" s
	metric "${_ln}_vmhwm" "$(median "/tmp/$_ln.hwm")" KiB
	metric "${_ln}_rss_anon" "$(median "/tmp/$_ln.anon")" KiB
	metric "${_ln}_rss_file" "$(median "/tmp/$_ln.file")" KiB
	# CPU time is far steadier than wall time when the outer machine is busy.
	_hz=100	# USER_HZ, what /proc/PID/stat counts in, on every Linux arch
	for _c in 1:vmm_user 2:kernel 3:guest; do
		cut -d' ' -f"${_c%%:*}" "/tmp/$_ln.cpu" >/tmp/cpu.col
		metric "${_ln}_cpu_${_c#*:}" "$(awk -v t="$(median /tmp/cpu.col)" -v hz="$_hz" \
			'BEGIN { printf "%.2f", t / hz }')" s
	done
}

linux_boot linux_quiet "$RUNS" "console=ttyAMA0 quiet"
# Without quiet every console byte is PL011 exits and the boot takes several
# times longer, so a couple of runs are enough to show by how much.
linux_boot linux_verbose 2 "console=ttyAMA0"
# The guest's own view: its last printk stamp before the marker is roughly
# how long the kernel itself took; the rest of start->marker is bmvm's
# start-up, loading and the exits it serves. From the first run that passed.
if [ -s /tmp/linux_verbose.first-ok ]; then
	metric_if linux_verbose_guest_last_printk "$(sed -n \
		's/^\[ *\([0-9][0-9]*\.[0-9]*\)\].*/\1/p' "$(cat /tmp/linux_verbose.first-ok)" |
		tail -n1)" s
fi

# VMM memory overhead: the hello guest touches a few pages of its 128 MiB,
# so bmvm's peak RSS is nearly all VMM. ru_maxrss (busybox time %M) is the
# exact peak; the polled run splits it into anonymous and file pages.
# kvm-bare running mmio-loop is the floor of a static KVM process.
# busybox time (1.35) multiplies ru_maxrss, already KiB on Linux, by the
# page size in KiB as if it counted pages: undo that.
PAGE_KIB=$(awk '/^KernelPageSize:/ { print $2; exit }' /proc/self/smaps)
maxrss() {	# maxrss TIMEFILE: the peak RSS in KiB that `time -f 'maxrss %M'` saw
	sed -n 's/^maxrss //p' "$1" 2>/dev/null | awk -v p="${PAGE_KIB:-4}" '{ print int($1 / p) }'
}
rm -f /tmp/hello.maxrss /tmp/bare.maxrss
i=1
while [ "$i" -le "$RUNS" ]; do
	rm -f /tmp/hello.time /tmp/bare.time
	run_case "hello-rss-$i" 0 60 'hello: PASS' -- \
		time -f 'maxrss %M' -o /tmp/hello.time bmvm $G/hello.elf --cpus 1 --ram 128
	[ "$CASE_OK" = 0 ] || maxrss /tmp/hello.time >>/tmp/hello.maxrss
	run_case "bare-rss-$i" 0 120 'mmio-loop:' -- \
		time -f 'maxrss %M' -o /tmp/bare.time $BARE --gic $G/mmio-loop.elf
	[ "$CASE_OK" = 0 ] || maxrss /tmp/bare.time >>/tmp/bare.maxrss
	i=$((i + 1))
done
rm -f /tmp/idle.time
run_case idle-rss 124 30 'still running' -- \
	time -f 'maxrss %M' -o /tmp/idle.time bmvm $G/hang.elf --cpus 1 --ram 128 --timeout 1
[ "$CASE_OK" = 0 ] || metric_if idle_128m_maxrss "$(maxrss /tmp/idle.time)" KiB
metric_if hello_128m_maxrss "$(median /tmp/hello.maxrss)" KiB
metric_if kvm_bare_maxrss "$(median /tmp/bare.maxrss)" KiB
# A guest that stays up (hang, stopped by --timeout 2) for a steady-state
# sample and an smaps snapshot: which mappings hold bmvm's memory.
W_SNAP=/tmp/hang.smaps
watch hang-watch 30 'still running' -- bmvm $G/hang.elf --cpus 1 --ram 128 --timeout 2
W_SNAP=''
if [ "$W_RC" -eq 124 ]; then
	pass hang-watch "$W_END"
	metric idle_128m_vmhwm "$W_HWM" KiB
	metric idle_128m_rss_anon "$W_ANON" KiB
	metric idle_128m_rss_file "$W_FILE" KiB
	# Guest RAM is the one mapping of about --ram's size: what of it is
	# resident is the guest's, the rest of the peak is bmvm's own.
	guest_rss=$(awk '/^[0-9a-f]+-[0-9a-f]+ / { ram = 0; next }
		/^Size:/ { ram = $2 >= 120 * 1024; next }
		/^Rss:/ && ram { print $2; exit }' /tmp/hang.smaps 2>/dev/null)
	metric_if idle_128m_guest_ram_rss "$guest_rss" KiB
	[ -z "$guest_rss" ] || metric idle_128m_vmm_overhead "$((W_HWM - guest_rss))" KiB
	# The mappings holding 256 KiB or more, biggest first.
	[ ! -s /tmp/hang.smaps ] || awk '
		/^[0-9a-f]+-[0-9a-f]+ / { m = $1 " " ($6 == "" ? "[anon]" : $6); next }
		/^Rss:/ && $2 >= 256 { printf "INFO smaps %7d KiB %s\n", $2, m }' \
		/tmp/hang.smaps | sort -k3 -nr
else
	fail hang-watch "exit status $W_RC, expected 124" "$CASE_OUT"
fi
