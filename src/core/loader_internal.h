/* SPDX-License-Identifier: MIT */
#ifndef BMVM_CORE_LOADER_INTERNAL_H
#define BMVM_CORE_LOADER_INTERNAL_H

#include <stdbool.h>
#include <string.h>

#include "core/loader.h"

/*
 * Shared by the format parsers in loader*.c. Errnos: ENOEXEC for a format
 * bmvm does not boot, EINVAL for a malformed file, ENOSPC for an image that
 * does not fit guest RAM.
 */

#define LOADER_MIB		(1ULL << 20)
#define LOADER_ELF_MAGIC	"\x7f" "ELF"
#define LOADER_IMAGE_MAGIC	"ARM\x64"
#define LOADER_IMAGE_MAGIC_AT	56

/* Files are little-endian whatever the host is, and need not be aligned. */
static inline uint16_t loader_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t loader_le32(const uint8_t *p)
{
	return loader_le16(p) | (uint32_t)loader_le16(p + 2) << 16;
}

static inline uint64_t loader_le64(const uint8_t *p)
{
	return loader_le32(p) | (uint64_t)loader_le32(p + 4) << 32;
}

static inline bool loader_has_magic(const uint8_t *file, size_t file_size, size_t at,
				    const char *magic, size_t len)
{
	return file_size >= at && file_size - at >= len && !memcmp(file + at, magic, len);
}

/* 0 when [gpa, gpa + size) lies in RAM, else -ENOSPC saying how much RAM @what needs. */
int loader_check_ram(const char *what, uint64_t gpa, uint64_t size,
		     uint64_t ram_base, uint64_t ram_size, struct errbuf *err);

/* Append a checked segment and widen [start, end) around it. */
void loader_plan_add(struct load_plan *plan, uint64_t gpa, uint64_t file_offset,
		     uint64_t file_size, uint64_t mem_size);

int loader_plan_elf(const uint8_t *file, size_t file_size, uint64_t ram_base,
		    uint64_t ram_size, struct load_plan *plan, struct errbuf *err);
int loader_plan_image(const uint8_t *file, size_t file_size, uint64_t ram_base,
		      uint64_t ram_size, struct load_plan *plan, struct errbuf *err);

#endif
