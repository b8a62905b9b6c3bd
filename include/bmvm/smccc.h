/* SPDX-License-Identifier: MIT */
#ifndef BMVM_SMCCC_H
#define BMVM_SMCCC_H

/*
 * bmvm's own SMCCC calls (Arm DEN 0028, "SMC Calling Convention"), made
 * with HVC #0 like PSCI. They are Vendor Specific Hypervisor Service calls
 * (owner 6), fast, SMC32, in a block of function numbers that no
 * hypervisor bmvm runs on uses for its own (0x4d00..0x4dff, "M").
 *
 * Where the accelerator cannot hand them to bmvm (KVM before Linux 6.4),
 * the call returns SMCCC_RET_NOT_SUPPORTED (-1) in W0 and does nothing: a
 * guest tries the call first and falls back to the MMIO test device.
 */

#define BMVM_SMCCC_BASE		0x86004d00u
#define BMVM_SMCCC_COUNT	0x100u

/*
 * End the run: bmvm exits with W1 & 0xff, as a write of W1 to the test
 * device's EXIT register does (docs/GUEST-GUIDE.md). Does not return when
 * handled; returns -1 (NOT_SUPPORTED) where it is not.
 */
#define BMVM_SMCCC_EXIT		(BMVM_SMCCC_BASE + 0x00)

#define BMVM_SMCCC_RET_NOT_SUPPORTED	(-1)

#endif
