/* SPDX-License-Identifier: MIT */
/*
 * Entry points and exception vectors of the bmvm guest runtime.
 *
 * Only PC-relative addressing (adr/adrp) is used here, so the same code runs
 * when an image is linked at a virtual address but entered, MMU off, at its
 * physical one (hello-highva).
 */
#include "bm.h"

#define PRIMARY_STACK_SIZE	0x4000
#define SECONDARY_STACK_SHIFT	12		/* 4 KiB each */
#define FRAME_SIZE		(34 * 8)	/* struct bm_regs */

	.macro	adr_l, reg, sym
	adrp	\reg, \sym
	add	\reg, \reg, :lo12:\sym
	.endm

	.section .text.boot, "ax"
	.globl	_start
_start:
	/* bmvm enters at EL1h, MMU off, DAIF masked, x0 = DTB: keep x0. */
	msr	daifset, #0xf
	adr_l	x1, primary_stack_top
	mov	sp, x1
	adr_l	x1, __bss_start
	adr_l	x2, __bss_end
1:	cmp	x1, x2
	b.hs	2f
	stp	xzr, xzr, [x1], #16
	b	1b
2:	bl	set_vectors
	b	bm_boot				/* main(dtb), then bm_exit() */

	/* PSCI CPU_ON lands here with x0 = context id = our cpu index. */
	.globl	bm_secondary_entry
bm_secondary_entry:
	msr	daifset, #0xf
	cmp	x0, #BM_MAX_CPUS
	b.hs	park
	adr_l	x1, secondary_stacks
	add	x2, x0, #1
	add	x1, x1, x2, lsl #SECONDARY_STACK_SHIFT
	mov	sp, x1
	bl	set_vectors
	b	bm_secondary_boot		/* the function bm_cpu_on() got */
park:	wfe
	b	park

set_vectors:
	adr_l	x1, bm_vectors
	msr	vbar_el1, x1
	isb
	ret

	.text
	/* u64 bm_hvc(fn, a1, a2, a3): SMCCC call; x0-x17 are ours to lose. */
	.globl	bm_hvc
bm_hvc:
	hvc	#0
	ret

	/*
	 * u64 bm_probe_read32(addr): if the load at bm_probe_insn faults,
	 * bm_handle_exception() sets x0 to ~0 and resumes after it.
	 */
	.globl	bm_probe_read32, bm_probe_insn
bm_probe_read32:
	mov	x1, x0
bm_probe_insn:
	ldr	w0, [x1]
	ret

/*
 * Exception vectors: 16 slots of 0x80 bytes. Each saves x0/x1, passes its
 * slot number and joins the common path, which saves the rest as a struct
 * bm_regs and calls bm_handle_exception(regs, slot).
 */
	.macro	vector, slot
	.balign	0x80
	sub	sp, sp, #FRAME_SIZE
	stp	x0, x1, [sp]
	mov	x0, #\slot
	b	exception_common
	.endm

	.balign	0x800
	.globl	bm_vectors
bm_vectors:
	.irp	slot, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
	vector	\slot
	.endr

exception_common:
	stp	x2, x3, [sp, #16 * 1]
	stp	x4, x5, [sp, #16 * 2]
	stp	x6, x7, [sp, #16 * 3]
	stp	x8, x9, [sp, #16 * 4]
	stp	x10, x11, [sp, #16 * 5]
	stp	x12, x13, [sp, #16 * 6]
	stp	x14, x15, [sp, #16 * 7]
	stp	x16, x17, [sp, #16 * 8]
	stp	x18, x19, [sp, #16 * 9]
	stp	x20, x21, [sp, #16 * 10]
	stp	x22, x23, [sp, #16 * 11]
	stp	x24, x25, [sp, #16 * 12]
	stp	x26, x27, [sp, #16 * 13]
	stp	x28, x29, [sp, #16 * 14]
	mrs	x1, elr_el1
	mrs	x2, spsr_el1
	stp	x30, x1, [sp, #16 * 15]
	str	x2, [sp, #16 * 16]

	mov	x1, x0
	mov	x0, sp
	bl	bm_handle_exception

	/* The handler may have changed x0 and ELR (probe fixup). */
	ldp	x30, x1, [sp, #16 * 15]
	ldr	x2, [sp, #16 * 16]
	msr	elr_el1, x1
	msr	spsr_el1, x2
	ldp	x0, x1, [sp]
	ldp	x2, x3, [sp, #16 * 1]
	ldp	x4, x5, [sp, #16 * 2]
	ldp	x6, x7, [sp, #16 * 3]
	ldp	x8, x9, [sp, #16 * 4]
	ldp	x10, x11, [sp, #16 * 5]
	ldp	x12, x13, [sp, #16 * 6]
	ldp	x14, x15, [sp, #16 * 7]
	ldp	x16, x17, [sp, #16 * 8]
	ldp	x18, x19, [sp, #16 * 9]
	ldp	x20, x21, [sp, #16 * 10]
	ldp	x22, x23, [sp, #16 * 11]
	ldp	x24, x25, [sp, #16 * 12]
	ldp	x26, x27, [sp, #16 * 13]
	ldp	x28, x29, [sp, #16 * 14]
	add	sp, sp, #FRAME_SIZE
	eret

/* Stacks are not zeroed at boot, so they live outside .bss. */
	.section .stacks, "aw", %nobits
	.balign	16
	.space	PRIMARY_STACK_SIZE
primary_stack_top:
secondary_stacks:
	.space	BM_MAX_CPUS << SECONDARY_STACK_SHIFT
