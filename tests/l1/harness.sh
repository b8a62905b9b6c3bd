# SPDX-License-Identifier: MIT
# Harness library for L1 case files (busybox ash). /init sources it, then the
# case file. Everything a case prints to the console goes through here, so the
# host-side runner only has to parse three line kinds:
#   RESULT PASS name (1.23s)
#   RESULT FAIL name: why        (followed by indented output lines)
#   METRIC name value unit
#
#   run_case     NAME EXPECTED_EXIT TIMEOUT_SEC PATTERN -- cmd args...
#   run_case_not NAME EXPECTED_EXIT TIMEOUT_SEC PATTERN -- cmd args...
# EXPECTED_EXIT is a number, "nonzero" or "any". PATTERN is grep -E, matched
# against stdout+stderr (saved in /tmp/NAME.out); empty means no check.
# run_case wants it present, run_case_not absent. After a case, CASE_SECS
# holds its duration, CASE_OUT its output file, e.g. for `metric`, and
# CASE_OK 1 if it passed, 0 if it failed (figures from a failed run are
# not figures).

# now: seconds since boot with centiseconds (busybox date has no %N).
now() {
	read -r _up _ </proc/uptime
	echo "$_up"
}

# since T0: seconds elapsed since a `now` value.
since() {
	awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'
}

# metric NAME VALUE UNIT: a measurement the runner collects into metrics.txt.
metric() {
	echo "METRIC $1 $2 $3"
}

# virtio_port NAME: the device of L1's virtio-serial port called NAME, if any.
virtio_port() {
	for _p in /sys/class/virtio-ports/*; do
		[ "$(cat "$_p/name" 2>/dev/null)" = "$1" ] && echo "/dev/${_p##*/}"
	done
	return 0
}

pass() {
	echo "RESULT PASS $1 (${2}s)"
}

# fail NAME WHY [OUTFILE]: report a failure with the tail of the output.
fail() {
	echo "RESULT FAIL $1: $2"
	if [ -n "${3:-}" ] && [ -s "$3" ]; then
		tail -n "${FAIL_TAIL:-20}" "$3" | sed 's/^/    /'
	fi
}

_run_case() {
	_mode=$1 _name=$2 _want=$3 _tmo=$4 _pat=$5
	CASE_OK=0
	shift 5
	if [ "${1:-}" != "--" ]; then
		fail "$_name" "harness usage: missing -- before the command"
		return 0
	fi
	shift
	CASE_OUT=/tmp/$_name.out
	_t0=$(now)
	# TERM first, so a VMM that is stuck but alive says where its vCPUs
	# were; KILL 5 s later, so a wedged one cannot outlive its case. stdin
	# from /dev/null so nothing reads the console.
	timeout -k 5 -s TERM "$_tmo" "$@" >"$CASE_OUT" 2>&1 </dev/null
	_rc=$?
	CASE_SECS=$(since "$_t0")
	if awk -v s="$CASE_SECS" -v t="$_tmo" 'BEGIN { exit !(s >= t - 0.1) }'; then
		fail "$_name" "timed out after ${_tmo}s (exit status $_rc)" "$CASE_OUT"
		return 0
	fi
	case $_want in
	any) ;;
	nonzero)
		if [ "$_rc" -eq 0 ]; then
			fail "$_name" "exit status 0, expected nonzero" "$CASE_OUT"
			return 0
		fi ;;
	*)
		if [ "$_rc" -ne "$_want" ]; then
			fail "$_name" "exit status $_rc, expected $_want" "$CASE_OUT"
			return 0
		fi ;;
	esac
	if [ -n "$_pat" ]; then
		if grep -Eq -- "$_pat" "$CASE_OUT"; then _found=1; else _found=0; fi
		if [ "$_mode" = has ] && [ "$_found" = 0 ]; then
			fail "$_name" "output lacks /$_pat/" "$CASE_OUT"
			return 0
		fi
		if [ "$_mode" = not ] && [ "$_found" = 1 ]; then
			fail "$_name" "output contains /$_pat/: $(grep -Em1 -- "$_pat" "$CASE_OUT")" "$CASE_OUT"
			return 0
		fi
	fi
	pass "$_name" "$CASE_SECS"
	CASE_OK=1
	return 0
}

run_case() { _run_case has "$@"; }
run_case_not() { _run_case not "$@"; }
