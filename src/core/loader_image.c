/* SPDX-License-Identifier: MIT */
#include "core/loader_internal.h"

#include <errno.h>
#include <inttypes.h>

/* Linux arm64 Image header, Documentation/arch/arm64/booting.rst. */
#define IMAGE_HEADER_SIZE	64
#define IMAGE_FLAG_BE		(1ULL << 0)
#define IMAGE_BASE_ALIGN	(2 * LOADER_MIB)
#define IMAGE_OLD_TEXT_OFFSET	0x80000ULL	/* kernels before 3.17 leave image_size 0 */

int loader_plan_image(const uint8_t *file, size_t file_size, uint64_t ram_base,
		      uint64_t ram_size, struct load_plan *plan, struct errbuf *err)
{
	uint64_t text_offset, image_size, flags, base, load;
	int ret;

	if (file_size < IMAGE_HEADER_SIZE)
		return err_set(err, EINVAL, "arm64 Image header truncated: file is %zu bytes, the header needs %d",
			       file_size, IMAGE_HEADER_SIZE);
	if (!loader_has_magic(file, file_size, LOADER_IMAGE_MAGIC_AT, LOADER_IMAGE_MAGIC, 4))
		return err_set(err, ENOEXEC, "not an arm64 Image (no \"ARM\\x64\" magic at offset %d)",
			       LOADER_IMAGE_MAGIC_AT);
	text_offset = loader_le64(file + 8);
	image_size = loader_le64(file + 16);
	flags = loader_le64(file + 24);
	if (flags & IMAGE_FLAG_BE)
		return err_set(err, ENOEXEC, "arm64 Image is a big-endian kernel (flags 0x%" PRIx64 "); bmvm boots little-endian kernels",
			       flags);
	if (image_size == 0) {
		text_offset = IMAGE_OLD_TEXT_OFFSET;
		image_size = file_size;
	}
	if (image_size < file_size)
		return err_set(err, EINVAL, "arm64 Image header says image_size 0x%" PRIx64 " but the file is 0x%zx bytes",
			       image_size, file_size);
	if (ram_base > UINT64_MAX - (IMAGE_BASE_ALIGN - 1))
		return err_set(err, ENOSPC, "RAM base 0x%" PRIx64 " leaves no 2 MiB-aligned place for the kernel", ram_base);
	base = (ram_base + IMAGE_BASE_ALIGN - 1) & ~(IMAGE_BASE_ALIGN - 1);
	if (text_offset > UINT64_MAX - base)
		return err_set(err, EINVAL, "arm64 Image text_offset 0x%" PRIx64 " is beyond the address space", text_offset);
	load = base + text_offset;
	ret = loader_check_ram("kernel", load, image_size, ram_base, ram_size, err);
	if (ret)
		return ret;
	loader_plan_add(plan, load, 0, file_size, image_size);
	plan->entry = load;
	return 0;
}
