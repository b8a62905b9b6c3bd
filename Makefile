# SPDX-License-Identifier: MIT
# Thin wrapper over Meson. The two commands of the README's quick start:
#   make demo    set up, build, boot the bundled hello guest, show its serial output
#   make check   set up, build, run every test; ends with "N passed, N failed, N skipped"

BUILD       ?= build/native
ARM64_BUILD ?= build/arm64-bmvm
ARM64_ASAN  ?= build/arm64-asan
ASAN_BUILD  ?= build/asan
POSIX_BUILD ?= build/posix
FUZZ_BUILD  ?= build/fuzz
ARM64_DIR   ?= build/arm64
GUESTS      ?= build/guests
FUZZ_SECS   ?= 30

MESON_OPTS  ?= -Dwerror=true

.PHONY: all deps native arm64 arm64-asan guests demo check unit unit-posix asan fuzz integration bench \
	bench-blk9p bench-api bench-gpu testbed-smoke clean

all: native

deps:
	@bash scripts/install-deps

native: deps
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD) $(MESON_OPTS)
	@ninja -C $(BUILD)

# aarch64 bmvm for arm64 hosts and the emulated test host: $(ARM64_BUILD)/bmvm,
# dynamically linked against Debian's arm64 libraries (tests/l1/run stages them).
arm64: deps
	@bash scripts/fetch-arm64 $(ARM64_DIR)
	@bash scripts/cross-file $(ARM64_DIR)/sysroot > build/arm64-cross.ini.new
	@cmp -s build/arm64-cross.ini.new build/arm64-cross.ini || mv build/arm64-cross.ini.new build/arm64-cross.ini
	@[ -f $(ARM64_BUILD)/build.ninja ] || meson setup $(ARM64_BUILD) --cross-file build/arm64-cross.ini \
		-Dtests=false -Dbuildtype=release -Doptimization=2 $(MESON_OPTS)
	@ninja -C $(ARM64_BUILD)

# The same with ASan + UBSan, for the integration suite.
arm64-asan: arm64
	@[ -f $(ARM64_ASAN)/build.ninja ] || meson setup $(ARM64_ASAN) --cross-file build/arm64-cross.ini \
		-Dtests=false -Db_sanitize=address,undefined -Db_lundef=false $(MESON_OPTS)
	@ninja -C $(ARM64_ASAN)

guests: deps
	@$(MAKE) --no-print-directory -C guests O=$(CURDIR)/$(GUESTS)

demo: arm64 guests
	@bash scripts/demo $(ARM64_BUILD)/bmvm $(GUESTS)

unit: native
	@bash tests/unit/run $(BUILD)

# The portable POSIX host layer (src/host/posix: what macOS builds), built
# and unit-tested here too. No renderer: it touches the host layer only
# through hostmem_check_fd(), which test_host covers.
unit-posix: deps
	@[ -f $(POSIX_BUILD)/build.ninja ] || meson setup $(POSIX_BUILD) -Dhost=posix \
		-Drenderer=disabled $(MESON_OPTS)
	@ninja -C $(POSIX_BUILD)
	@UNIT_LEFT_OUT="test_gpu_link test_render_vk test_render_window" bash tests/unit/run $(POSIX_BUILD)

asan: deps
	@[ -f $(ASAN_BUILD)/build.ninja ] || meson setup $(ASAN_BUILD) $(MESON_OPTS) \
		-Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
	@ninja -C $(ASAN_BUILD)
	@UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 bash tests/unit/run $(ASAN_BUILD)

fuzz: deps
	@[ -f $(FUZZ_BUILD)/build.ninja ] || CC=clang-14 meson setup $(FUZZ_BUILD) $(MESON_OPTS) -Dfuzz=true \
		-Dtests=false -Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args=-fsanitize=fuzzer-no-link
	@ninja -C $(FUZZ_BUILD)
	@bash tests/fuzz/run $(FUZZ_BUILD) $(FUZZ_SECS)

# The GPU's renderer runs natively beside the emulated host: native builds it.
integration: native arm64 arm64-asan guests
	@BMVM_RENDER=$(CURDIR)/$(BUILD)/bmvm-render \
		bash tests/l1/run-integration $(ARM64_BUILD)/bmvm $(GUESTS) $(ARM64_ASAN)/bmvm

check: deps
	@bash tests/check

bench: arm64 guests
	@bash bench/run $(ARM64_BUILD)/bmvm $(GUESTS)

# virtio-blk and 9p throughput in the guest, bmvm against QEMU in the same emulated host
bench-blk9p: arm64 guests
	@bash bench/run-blk9p $(ARM64_BUILD)/bmvm

# control API latency (GET /vm/state) and bmvm's idle CPU with the API open
bench-gpu: arm64 guests native
	@bash bench/run-gpu $(ARM64_BUILD)/bmvm $(GUESTS) $(BUILD)

bench-api: arm64 guests
	@bash bench/run-api $(ARM64_BUILD)/bmvm $(GUESTS)

# the emulated host's own tools (l1tool, modules, QEMU tree, L2 flavours)
testbed-smoke: arm64
	@bash tests/l1/testbed-smoke $(ARM64_BUILD)/bmvm

clean:
	rm -rf build
