/* SPDX-License-Identifier: MIT */
#ifndef BMVM_CORE_LOADER_H
#define BMVM_CORE_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/guest_mem.h"

/*
 * Kernel and initrd loading happens in two steps so that parsing (which sees
 * untrusted bytes) is a pure function that unit tests and fuzzers call on a
 * buffer, and so that a guest reset can put the same images back:
 *
 *   loader_plan_*()   file bytes + RAM range -> a load plan, every bound checked
 *   loader_apply()    plan + fd -> bytes in guest RAM, the bss zeroed
 */

enum kernel_format {
	KERNEL_FORMAT_AUTO,	/* ELF64 or arm64 Image, by their magic; else refused */
	KERNEL_FORMAT_ELF,
	KERNEL_FORMAT_IMAGE,	/* Linux arm64 Image (Documentation/arch/arm64/booting.rst) */
	KERNEL_FORMAT_RAW,	/* flat binary at RAM base + LOADER_RAW_OFFSET */
};

#define LOADER_RAW_OFFSET	0x80000ULL
#define LOADER_MAX_SEGMENTS	32

struct load_segment {
	uint64_t gpa;		/* where in guest RAM */
	uint64_t file_offset;
	uint64_t file_size;	/* bytes copied from the file */
	uint64_t mem_size;	/* >= file_size; the rest is zeroed (bss) */
};

struct load_plan {
	enum kernel_format format;	/* the format actually detected */
	uint64_t entry;			/* guest-physical entry point */
	uint64_t start, end;		/* [start, end): RAM the image occupies, bss included */
	unsigned nr_segments;
	struct load_segment segment[LOADER_MAX_SEGMENTS];
};

/* Parse a kernel for the arm64 machine whose RAM is [ram_base, ram_base + ram_size). */
int loader_plan_kernel(const uint8_t *file, size_t file_size, enum kernel_format format,
		       uint64_t ram_base, uint64_t ram_size,
		       struct load_plan *plan, struct errbuf *err);

/* A blob (initrd) of @file_size bytes placed as is at @gpa; checks it fits RAM. */
int loader_plan_blob(size_t file_size, uint64_t gpa, uint64_t ram_base, uint64_t ram_size,
		     struct load_plan *plan, struct errbuf *err);

/* Copy (or map) every segment of @plan from @fd into @mem; zero the bss. */
int loader_apply(struct guest_mem *mem, int fd, const struct load_plan *plan,
		 struct errbuf *err);

/* Parse a --format value: "elf", "image", "raw" (or "auto"). -EINVAL otherwise. */
int loader_parse_format(const char *name, enum kernel_format *format);
const char *loader_format_name(enum kernel_format format);

#endif
