/* SPDX-License-Identifier: MIT */
#include "core/loader_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

static const char *const format_names[] = {
	[KERNEL_FORMAT_AUTO] = "auto",
	[KERNEL_FORMAT_ELF] = "elf",
	[KERNEL_FORMAT_IMAGE] = "image",
	[KERNEL_FORMAT_RAW] = "raw",
};

int loader_parse_format(const char *name, enum kernel_format *format)
{
	for (unsigned i = 0; name && i < sizeof(format_names) / sizeof(format_names[0]); i++) {
		if (!strcmp(name, format_names[i])) {
			*format = (enum kernel_format)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *loader_format_name(enum kernel_format format)
{
	if ((unsigned)format >= sizeof(format_names) / sizeof(format_names[0]))
		return "unknown";
	return format_names[format];
}

int loader_check_ram(const char *what, uint64_t gpa, uint64_t size,
		     uint64_t ram_base, uint64_t ram_size, struct errbuf *err)
{
	uint64_t span, need_mib;

	if (gpa >= ram_base && gpa - ram_base <= ram_size && size <= ram_size - (gpa - ram_base))
		return 0;
	if (gpa < ram_base || size > UINT64_MAX - gpa)
		return err_set(err, ENOSPC,
			       "%s [0x%" PRIx64 ", +0x%" PRIx64 ") lies outside RAM [0x%" PRIx64 ", +0x%" PRIx64 ")",
			       what, gpa, size, ram_base, ram_size);
	span = gpa + size - ram_base;
	need_mib = span / LOADER_MIB + (span % LOADER_MIB != 0);
	return err_set(err, ENOSPC,
		       "%s at 0x%" PRIx64 " (0x%" PRIx64 " bytes) needs %" PRIu64 " MiB of RAM from 0x%" PRIx64 "; use --ram %" PRIu64 " or more",
		       what, gpa, size, need_mib, ram_base, need_mib);
}

void loader_plan_add(struct load_plan *plan, uint64_t gpa, uint64_t file_offset,
		     uint64_t file_size, uint64_t mem_size)
{
	plan->segment[plan->nr_segments++] = (struct load_segment){
		.gpa = gpa, .file_offset = file_offset,
		.file_size = file_size, .mem_size = mem_size,
	};
	if (plan->nr_segments == 1 || gpa < plan->start)
		plan->start = gpa;
	if (plan->nr_segments == 1 || gpa + mem_size > plan->end)
		plan->end = gpa + mem_size;
}

static int plan_raw(size_t file_size, uint64_t ram_base, uint64_t ram_size,
		    struct load_plan *plan, struct errbuf *err)
{
	uint64_t gpa = ram_base + LOADER_RAW_OFFSET;
	int ret;

	if (file_size == 0)
		return err_set(err, EINVAL, "raw kernel file is empty");
	if (ram_size < LOADER_RAW_OFFSET)
		return err_set(err, ENOSPC, "RAM of 0x%" PRIx64 " bytes is too small for a raw kernel at offset 0x%llx",
			       ram_size, LOADER_RAW_OFFSET);
	ret = loader_check_ram("raw kernel", gpa, file_size, ram_base, ram_size, err);
	if (ret)
		return ret;
	loader_plan_add(plan, gpa, 0, file_size, file_size);
	plan->entry = gpa;
	return 0;
}

static int detect_format(const uint8_t *file, size_t file_size, enum kernel_format *format,
			 struct errbuf *err)
{
	if (loader_has_magic(file, file_size, 0, LOADER_ELF_MAGIC, 4))
		*format = KERNEL_FORMAT_ELF;
	else if (loader_has_magic(file, file_size, LOADER_IMAGE_MAGIC_AT, LOADER_IMAGE_MAGIC, 4))
		*format = KERNEL_FORMAT_IMAGE;
	else if (file_size == 0)
		return err_set(err, EINVAL, "kernel file is empty");
	else
		return err_set(err, ENOEXEC,
			       "kernel is neither ELF64 nor an arm64 Image (no magic at offset 0 or 56); for a flat binary use --format raw");
	return 0;
}

/* With RAM ending below 2^64, no checked segment end can wrap. */
static int check_ram_range(uint64_t ram_base, uint64_t ram_size, struct errbuf *err)
{
	if (ram_size == 0 || ram_base + ram_size < ram_base)
		return err_set(err, EINVAL, "RAM [0x%" PRIx64 ", +0x%" PRIx64 ") is empty or wraps",
			       ram_base, ram_size);
	return 0;
}

static int plan_kernel(const uint8_t *file, size_t file_size, enum kernel_format format,
		       uint64_t ram_base, uint64_t ram_size, struct load_plan *plan,
		       struct errbuf *err)
{
	int ret = check_ram_range(ram_base, ram_size, err);

	if (ret)
		return ret;
	/* Someone handing us vmlinuz deserves the fix, not "unknown format". */
	if (format != KERNEL_FORMAT_RAW && loader_has_magic(file, file_size, 0, "\x1f\x8b", 2))
		return err_set(err, ENOEXEC,
			       "kernel is gzip-compressed; decompress it first, e.g. `gunzip -c vmlinuz > Image`");
	if (format == KERNEL_FORMAT_AUTO) {
		ret = detect_format(file, file_size, &format, err);
		if (ret)
			return ret;
	}
	plan->format = format;
	switch (format) {
	case KERNEL_FORMAT_ELF:
		return loader_plan_elf(file, file_size, ram_base, ram_size, plan, err);
	case KERNEL_FORMAT_IMAGE:
		return loader_plan_image(file, file_size, ram_base, ram_size, plan, err);
	case KERNEL_FORMAT_RAW:
		return plan_raw(file_size, ram_base, ram_size, plan, err);
	default:
		return err_set(err, EINVAL, "unknown kernel format %d", (int)format);
	}
}

int loader_plan_kernel(const uint8_t *file, size_t file_size, enum kernel_format format,
		       uint64_t ram_base, uint64_t ram_size,
		       struct load_plan *plan, struct errbuf *err)
{
	int ret;

	memset(plan, 0, sizeof(*plan));
	ret = plan_kernel(file, file_size, format, ram_base, ram_size, plan, err);
	if (ret)
		memset(plan, 0, sizeof(*plan));	/* never half a plan */
	return ret;
}

int loader_plan_blob(size_t file_size, uint64_t gpa, uint64_t ram_base, uint64_t ram_size,
		     struct load_plan *plan, struct errbuf *err)
{
	int ret;

	memset(plan, 0, sizeof(*plan));
	if (file_size == 0)
		return err_set(err, EINVAL, "initrd file is empty");
	ret = check_ram_range(ram_base, ram_size, err);
	if (!ret)
		ret = loader_check_ram("initrd", gpa, file_size, ram_base, ram_size, err);
	if (ret)
		return ret;
	plan->format = KERNEL_FORMAT_RAW;
	loader_plan_add(plan, gpa, 0, file_size, file_size);
	plan->entry = gpa;
	return 0;
}

/* The file may have changed since it was planned (a kernel rebuilt in place). */
static int check_file_size(int fd, const struct load_plan *plan, struct errbuf *err)
{
	struct stat st;

	if (fstat(fd, &st))
		return err_set(err, errno, "cannot stat the image file: %s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return 0;
	for (unsigned i = 0; i < plan->nr_segments; i++) {
		const struct load_segment *seg = &plan->segment[i];

		if (seg->file_offset > (uint64_t)st.st_size ||
		    seg->file_size > (uint64_t)st.st_size - seg->file_offset)
			return err_set(err, EIO,
				       "image file is 0x%llx bytes, segment %u needs [0x%" PRIx64 ", +0x%" PRIx64 "): did it change?",
				       (unsigned long long)st.st_size, i, seg->file_offset, seg->file_size);
	}
	return 0;
}

static int apply_segment(struct guest_mem *mem, int fd, const struct load_segment *seg,
			 unsigned index, struct errbuf *err)
{
	int ret;

	if (seg->file_size > seg->mem_size || !guest_mem_contains(mem, seg->gpa, seg->mem_size))
		return err_set(err, EFAULT, "segment %u [0x%" PRIx64 ", +0x%" PRIx64 ") is outside guest RAM",
			       index, seg->gpa, seg->mem_size);
	if (seg->file_size) {
		ret = guest_mem_load_fd(mem, seg->gpa, fd, seg->file_offset, seg->file_size);
		if (ret)
			return err_set(err, -ret, "loading segment %u (0x%" PRIx64 " bytes from file offset 0x%" PRIx64 ") to 0x%" PRIx64 ": %s",
				       index, seg->file_size, seg->file_offset, seg->gpa, strerror(-ret));
	}
	ret = guest_mem_clear(mem, seg->gpa + seg->file_size, seg->mem_size - seg->file_size);
	if (ret)
		return err_set(err, -ret, "zeroing the bss of segment %u: %s", index, strerror(-ret));
	return 0;
}

int loader_apply(struct guest_mem *mem, int fd, const struct load_plan *plan,
		 struct errbuf *err)
{
	int ret;

	if (plan->nr_segments > LOADER_MAX_SEGMENTS)
		return err_set(err, EINVAL, "load plan has %u segments", plan->nr_segments);
	ret = check_file_size(fd, plan, err);
	for (unsigned i = 0; !ret && i < plan->nr_segments; i++)
		ret = apply_segment(mem, fd, &plan->segment[i], i, err);
	return ret;
}
