/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/loader.h"

#define RAM_BASE	0x40000000ULL
#define RAM_SIZE	(256ULL << 20)
#define HIGH_VA		0xffff800010000000ULL
#define PT_LOAD		1
#define PT_NOTE		4

static uint8_t file[4096];

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }

/* An aarch64 ET_EXEC header whose @phnum program headers follow it at offset 64. */
static void elf_header(uint8_t *buf, uint64_t entry, unsigned phnum)
{
	memset(buf, 0, 64);
	memcpy(buf, "\x7f" "ELF", 4);
	buf[4] = 2;	/* ELFCLASS64 */
	buf[5] = 1;	/* ELFDATA2LSB */
	buf[6] = 1;	/* EV_CURRENT */
	put16(buf + 16, 2);	/* ET_EXEC */
	put16(buf + 18, 183);	/* EM_AARCH64 */
	put32(buf + 20, 1);
	put64(buf + 24, entry);
	put64(buf + 32, 64);
	put16(buf + 52, 64);
	put16(buf + 54, 56);
	put16(buf + 56, (uint16_t)phnum);
}

static void elf_phdr(uint8_t *buf, unsigned i, uint32_t type, uint64_t offset, uint64_t vaddr,
		     uint64_t paddr, uint64_t filesz, uint64_t memsz)
{
	uint8_t *ph = buf + 64 + i * 56;

	memset(ph, 0, 56);
	put32(ph, type);
	put64(ph + 8, offset);
	put64(ph + 16, vaddr);
	put64(ph + 24, paddr);
	put64(ph + 32, filesz);
	put64(ph + 40, memsz);
}

/* The common case: one PT_LOAD of 0x200 file bytes + bss at RAM base, entry in it. */
static void elf_simple(uint64_t entry)
{
	memset(file, 0, sizeof(file));
	elf_header(file, entry, 1);
	elf_phdr(file, 0, PT_LOAD, 0x800, RAM_BASE, RAM_BASE, 0x200, 0x1000);
}

static void image_header(uint8_t *buf, uint64_t text_offset, uint64_t image_size, uint64_t flags)
{
	memset(buf, 0, sizeof(file));
	put32(buf, 0x14000010);	/* b #64: what real Images start with */
	put64(buf + 8, text_offset);
	put64(buf + 16, image_size);
	put64(buf + 24, flags);
	memcpy(buf + 56, "ARM\x64", 4);
}

static void check_error(int ret, const struct errbuf *err, int errnum, const char *needle)
{
	assert_int_equal(ret, -errnum);
	if (!strstr(err->msg, needle))
		fail_msg("message \"%s\" lacks \"%s\"", err->msg, needle);
}

static void expect_error_ram(const uint8_t *buf, size_t size, enum kernel_format format,
			     uint64_t ram_size, int errnum, const char *needle)
{
	struct load_plan plan;
	struct errbuf err = { "" };
	int ret = loader_plan_kernel(buf, size, format, RAM_BASE, ram_size, &plan, &err);

	check_error(ret, &err, errnum, needle);
	assert_int_equal(plan.nr_segments, 0);
}

static void expect_error(int errnum, const char *needle)
{
	expect_error_ram(file, sizeof(file), KERNEL_FORMAT_AUTO, RAM_SIZE, errnum, needle);
}

static void plan_ok(const uint8_t *buf, size_t size, enum kernel_format format,
		    uint64_t ram_base, struct load_plan *plan)
{
	struct errbuf err = { "" };
	int ret = loader_plan_kernel(buf, size, format, ram_base, RAM_SIZE, plan, &err);

	if (ret)
		fail_msg("loader_plan_kernel: %d %s", ret, err.msg);
}

static void check_segment(const struct load_segment *seg, uint64_t gpa, uint64_t offset,
			  uint64_t file_size, uint64_t mem_size)
{
	assert_int_equal(seg->gpa, gpa);
	assert_int_equal(seg->file_offset, offset);
	assert_int_equal(seg->file_size, file_size);
	assert_int_equal(seg->mem_size, mem_size);
}

static void test_elf_one_segment(void **state)
{
	struct load_plan plan;

	(void)state;
	elf_simple(RAM_BASE + 0x100);
	plan_ok(file, sizeof(file), KERNEL_FORMAT_AUTO, RAM_BASE, &plan);
	assert_int_equal(plan.format, KERNEL_FORMAT_ELF);
	assert_int_equal(plan.nr_segments, 1);
	check_segment(&plan.segment[0], RAM_BASE, 0x800, 0x200, 0x1000);
	assert_int_equal(plan.entry, RAM_BASE + 0x100);
	assert_int_equal(plan.start, RAM_BASE);
	assert_int_equal(plan.end, RAM_BASE + 0x1000);
	plan_ok(file, sizeof(file), KERNEL_FORMAT_ELF, RAM_BASE, &plan);
	assert_int_equal(plan.format, KERNEL_FORMAT_ELF);
}

static void test_elf_three_segments(void **state)
{
	struct load_plan plan;

	(void)state;
	memset(file, 0, sizeof(file));
	elf_header(file, RAM_BASE + 0x200010, 5);
	elf_phdr(file, 0, PT_LOAD, 0x400, RAM_BASE + 0x200000, RAM_BASE + 0x200000, 0x100, 0x100);
	elf_phdr(file, 1, PT_NOTE, 0x500, 0, 0, 0x10, 0x10);
	elf_phdr(file, 2, PT_LOAD, 0x500, RAM_BASE, RAM_BASE, 0x80, 0x1000);
	elf_phdr(file, 3, PT_LOAD, 0x0, RAM_BASE + 0x100000, RAM_BASE + 0x100000, 0, 0);
	elf_phdr(file, 4, PT_LOAD, 0x600, RAM_BASE + 0x300000, RAM_BASE + 0x300000, 0x200, 0x4000);
	plan_ok(file, sizeof(file), KERNEL_FORMAT_AUTO, RAM_BASE, &plan);
	assert_int_equal(plan.nr_segments, 3);
	check_segment(&plan.segment[0], RAM_BASE + 0x200000, 0x400, 0x100, 0x100);
	check_segment(&plan.segment[1], RAM_BASE, 0x500, 0x80, 0x1000);
	check_segment(&plan.segment[2], RAM_BASE + 0x300000, 0x600, 0x200, 0x4000);
	assert_int_equal(plan.start, RAM_BASE);
	assert_int_equal(plan.end, RAM_BASE + 0x304000);
	assert_int_equal(plan.entry, RAM_BASE + 0x200010);
}

static void test_elf_high_va_entry(void **state)
{
	struct load_plan plan;

	(void)state;
	memset(file, 0, sizeof(file));
	elf_header(file, HIGH_VA + 0x1234, 1);
	elf_phdr(file, 0, PT_LOAD, 0x800, HIGH_VA, RAM_BASE + 0x200000, 0x800, 0x10000);
	plan_ok(file, sizeof(file), KERNEL_FORMAT_AUTO, RAM_BASE, &plan);
	assert_int_equal(plan.entry, RAM_BASE + 0x201234);
	/* A physical entry next to a virtual link address is taken as is. */
	put64(file + 24, RAM_BASE + 0x200040);
	plan_ok(file, sizeof(file), KERNEL_FORMAT_AUTO, RAM_BASE, &plan);
	assert_int_equal(plan.entry, RAM_BASE + 0x200040);
}

static void test_elf_truncated_header(void **state)
{
	(void)state;
	elf_simple(RAM_BASE);
	expect_error_ram(file, 40, KERNEL_FORMAT_AUTO, RAM_SIZE, EINVAL, "ELF header truncated: file is 40 bytes");
	expect_error_ram(file, 10, KERNEL_FORMAT_ELF, RAM_SIZE, EINVAL, "truncated");
}

static void test_elf_phdrs_beyond_eof(void **state)
{
	(void)state;
	elf_simple(RAM_BASE);
	expect_error_ram(file, 100, KERNEL_FORMAT_AUTO, RAM_SIZE, EINVAL,
			 "program headers [0x40, +1 x 56 bytes) extend beyond the end of the file (0x64 bytes)");
	put64(file + 32, UINT64_MAX - 8);
	expect_error(EINVAL, "program headers [0xfffffffffffffff7");
	put64(file + 32, 64);
	put16(file + 56, 0xffff);
	expect_error(EINVAL, "+65535 x 56 bytes) extend beyond");
	put16(file + 56, 0);
	expect_error(EINVAL, "no program headers");
	put16(file + 56, 1);
	put16(file + 54, 32);
	expect_error(EINVAL, "e_phentsize 32");
}

static void test_elf_offset_overflow(void **state)
{
	(void)state;
	elf_simple(RAM_BASE);
	elf_phdr(file, 0, PT_LOAD, UINT64_MAX - 0x10, RAM_BASE, RAM_BASE, 0x100, 0x100);
	expect_error(EINVAL, "ELF segment 0: file bytes [0xffffffffffffffef, +0x100) extend beyond the end of the file");
	elf_phdr(file, 0, PT_LOAD, 0xf00, RAM_BASE, RAM_BASE, 0x101, 0x101);
	expect_error(EINVAL, "[0xf00, +0x101) extend beyond the end of the file (0x1000 bytes)");
}

static void test_elf_filesz_over_memsz(void **state)
{
	(void)state;
	elf_simple(RAM_BASE);
	elf_phdr(file, 0, PT_LOAD, 0x800, RAM_BASE, RAM_BASE, 0x200, 0x100);
	expect_error(EINVAL, "p_filesz 0x200 exceeds p_memsz 0x100");
}

static void test_elf_segment_outside_ram(void **state)
{
	(void)state;
	elf_simple(0x1000);
	elf_phdr(file, 0, PT_LOAD, 0x800, 0x1000, 0x1000, 0x200, 0x1000);
	expect_error(ENOSPC, "ELF segment 0 [0x1000, +0x1000) lies outside RAM [0x40000000, +0x10000000)");
	elf_simple(RAM_BASE + RAM_SIZE - 0x100);
	elf_phdr(file, 0, PT_LOAD, 0x800, RAM_BASE + RAM_SIZE - 0x100, RAM_BASE + RAM_SIZE - 0x100, 0x100, 0x1000);
	expect_error(ENOSPC, "ELF segment 0 at 0x4fffff00 (0x1000 bytes) needs 257 MiB of RAM from 0x40000000; use --ram 257");
}

static void test_elf_segment_wraps(void **state)
{
	(void)state;
	elf_simple(0xfffffffffffff000);
	elf_phdr(file, 0, PT_LOAD, 0x800, 0xfffffffffffff000, 0xfffffffffffff000, 0x100, 0x2000);
	expect_error(EINVAL, "[0xfffffffffffff000, +0x2000) wraps around the 64-bit address space");
}

static void test_elf_overlap(void **state)
{
	struct load_plan plan;

	(void)state;
	memset(file, 0, sizeof(file));
	elf_header(file, RAM_BASE, 3);
	elf_phdr(file, 0, PT_LOAD, 0x800, RAM_BASE, RAM_BASE, 0x100, 0x2000);
	elf_phdr(file, 1, PT_NOTE, 0x800, 0, 0, 0x10, 0x10);
	elf_phdr(file, 2, PT_LOAD, 0x900, RAM_BASE + 0x1fff, RAM_BASE + 0x1fff, 0x100, 0x100);
	expect_error(EINVAL, "ELF segments 0 [0x40000000, 0x40002000) and 2 [0x40001fff, 0x400020ff) overlap");
	/* Touching is fine. */
	elf_phdr(file, 2, PT_LOAD, 0x900, RAM_BASE + 0x2000, RAM_BASE + 0x2000, 0x100, 0x100);
	plan_ok(file, sizeof(file), KERNEL_FORMAT_AUTO, RAM_BASE, &plan);
	assert_int_equal(plan.nr_segments, 2);
}

static void test_elf_too_many_segments(void **state)
{
	struct load_plan plan;

	(void)state;
	memset(file, 0, sizeof(file));
	elf_header(file, RAM_BASE, LOADER_MAX_SEGMENTS);
	for (unsigned i = 0; i <= LOADER_MAX_SEGMENTS; i++)
		elf_phdr(file, i, PT_LOAD, 0x800, RAM_BASE + i * 0x1000, RAM_BASE + i * 0x1000, 0x10, 0x1000);
	plan_ok(file, sizeof(file), KERNEL_FORMAT_AUTO, RAM_BASE, &plan);
	assert_int_equal(plan.nr_segments, LOADER_MAX_SEGMENTS);
	assert_int_equal(plan.end, RAM_BASE + LOADER_MAX_SEGMENTS * 0x1000);
	put16(file + 56, LOADER_MAX_SEGMENTS + 1);
	expect_error(EINVAL, "more than 32 loadable segments");
}

static void test_elf_no_load(void **state)
{
	(void)state;
	elf_simple(RAM_BASE);
	elf_phdr(file, 0, PT_NOTE, 0x800, RAM_BASE, RAM_BASE, 0x10, 0x10);
	expect_error(EINVAL, "no loadable (PT_LOAD) segment");
	elf_phdr(file, 0, PT_LOAD, 0x800, RAM_BASE, RAM_BASE, 0, 0);
	expect_error(EINVAL, "no loadable (PT_LOAD) segment");
}

static void test_elf_entry_outside(void **state)
{
	(void)state;
	elf_simple(RAM_BASE + 0x1000);	/* one past the end */
	expect_error(EINVAL, "entry point 0x40001000 is outside every loadable segment");
}

static void test_elf_wrong_ident(void **state)
{
	struct load_plan plan;

	(void)state;
	elf_simple(RAM_BASE);
	file[4] = 1;
	expect_error(ENOEXEC, "ELF class 1 is not ELF64");
	elf_simple(RAM_BASE);
	file[5] = 2;
	expect_error(ENOEXEC, "big-endian ELF");
	elf_simple(RAM_BASE);
	put16(file + 18, 62);
	expect_error(ENOEXEC, "e_machine 62 is not AArch64");
	elf_simple(RAM_BASE);
	put16(file + 16, 1);
	expect_error(ENOEXEC, "e_type 1 is neither");
	elf_simple(RAM_BASE);
	put16(file + 16, 3);	/* ET_DYN is welcome */
	plan_ok(file, sizeof(file), KERNEL_FORMAT_AUTO, RAM_BASE, &plan);
}

static void test_image_text_offset_0(void **state)
{
	struct load_plan plan;

	(void)state;
	image_header(file, 0, 0x10000, 0);
	plan_ok(file, sizeof(file), KERNEL_FORMAT_AUTO, RAM_BASE, &plan);
	assert_int_equal(plan.format, KERNEL_FORMAT_IMAGE);
	assert_int_equal(plan.nr_segments, 1);
	check_segment(&plan.segment[0], RAM_BASE, 0, sizeof(file), 0x10000);
	assert_int_equal(plan.entry, RAM_BASE);
	assert_int_equal(plan.start, RAM_BASE);
	assert_int_equal(plan.end, RAM_BASE + 0x10000);
	/* RAM that does not start on 2 MiB: the kernel goes to the next boundary. */
	plan_ok(file, sizeof(file), KERNEL_FORMAT_IMAGE, RAM_BASE + 0x1000, &plan);
	assert_int_equal(plan.entry, RAM_BASE + 0x200000);
}

static void test_image_text_offset_80000(void **state)
{
	struct load_plan plan;

	(void)state;
	image_header(file, 0x80000, 0x123000, 0x2 | 0x8);	/* 4K pages, physical anywhere */
	plan_ok(file, sizeof(file), KERNEL_FORMAT_AUTO, RAM_BASE, &plan);
	check_segment(&plan.segment[0], RAM_BASE + 0x80000, 0, sizeof(file), 0x123000);
	assert_int_equal(plan.entry, RAM_BASE + 0x80000);
	assert_int_equal(plan.end, RAM_BASE + 0x80000 + 0x123000);
	/* Before 3.17, image_size 0: text_offset is 0x80000, the file is the image. */
	image_header(file, 0, 0, 0);
	plan_ok(file, sizeof(file), KERNEL_FORMAT_AUTO, RAM_BASE, &plan);
	check_segment(&plan.segment[0], RAM_BASE + 0x80000, 0, sizeof(file), sizeof(file));
}

static void test_image_errors(void **state)
{
	(void)state;
	image_header(file, 0, 0x800, 0);
	expect_error(EINVAL, "image_size 0x800 but the file is 0x1000 bytes");
	image_header(file, 0, 0x10000, 1);
	expect_error(ENOEXEC, "big-endian kernel (flags 0x1)");
	image_header(file, 0x80000, RAM_SIZE, 0);
	expect_error(ENOSPC, "kernel at 0x40080000 (0x10000000 bytes) needs 257 MiB of RAM from 0x40000000; use --ram 257");
	image_header(file, UINT64_MAX - 0x1000, 0x10000, 0);
	expect_error(EINVAL, "text_offset 0xffffffffffffefff");
	image_header(file, 0, 0x10000, 0);
	expect_error_ram(file, 63, KERNEL_FORMAT_IMAGE, RAM_SIZE, EINVAL, "Image header truncated");
	memset(file, 0, sizeof(file));
	expect_error_ram(file, sizeof(file), KERNEL_FORMAT_IMAGE, RAM_SIZE, ENOEXEC, "no \"ARM\\x64\" magic at offset 56");
}

static void test_gzip_and_unknown(void **state)
{
	(void)state;
	memset(file, 0, sizeof(file));
	memcpy(file, "\x1f\x8b\x08\x00", 4);
	expect_error(ENOEXEC, "gzip-compressed; decompress it first, e.g. `gunzip -c vmlinuz > Image`");
	expect_error_ram(file, sizeof(file), KERNEL_FORMAT_IMAGE, RAM_SIZE, ENOEXEC, "gunzip -c");
	memcpy(file, "\xd5\x03\x20\x1f", 4);	/* a nop: some flat binary */
	expect_error(ENOEXEC, "for a flat binary use --format raw");
	expect_error_ram(file, sizeof(file), KERNEL_FORMAT_ELF, RAM_SIZE, ENOEXEC, "not an ELF file");
	expect_error_ram(file, 0, KERNEL_FORMAT_AUTO, RAM_SIZE, EINVAL, "kernel file is empty");
	expect_error_ram(file, 3, KERNEL_FORMAT_AUTO, RAM_SIZE, ENOEXEC, "--format raw");
	expect_error_ram(file, sizeof(file), KERNEL_FORMAT_AUTO, 0, EINVAL, "is empty or wraps");
}

static void test_raw(void **state)
{
	struct load_plan plan;

	(void)state;
	elf_simple(RAM_BASE);	/* --format raw overrides the magic */
	plan_ok(file, sizeof(file), KERNEL_FORMAT_RAW, RAM_BASE, &plan);
	assert_int_equal(plan.format, KERNEL_FORMAT_RAW);
	assert_int_equal(plan.nr_segments, 1);
	check_segment(&plan.segment[0], RAM_BASE + LOADER_RAW_OFFSET, 0, sizeof(file), sizeof(file));
	assert_int_equal(plan.entry, RAM_BASE + LOADER_RAW_OFFSET);
	assert_int_equal(plan.start, RAM_BASE + LOADER_RAW_OFFSET);
	assert_int_equal(plan.end, RAM_BASE + LOADER_RAW_OFFSET + sizeof(file));
	expect_error_ram(file, 0, KERNEL_FORMAT_RAW, RAM_SIZE, EINVAL, "raw kernel file is empty");
	expect_error_ram(file, sizeof(file), KERNEL_FORMAT_RAW, 0x80800, ENOSPC,
			 "raw kernel at 0x40080000 (0x1000 bytes) needs 1 MiB of RAM from 0x40000000; use --ram 1");
	expect_error_ram(file, sizeof(file), KERNEL_FORMAT_RAW, 0x1000, ENOSPC, "too small for a raw kernel");
}

static void test_blob(void **state)
{
	struct load_plan plan;
	struct errbuf err = { "" };

	(void)state;
	assert_int_equal(loader_plan_blob(0x5000, RAM_BASE + 0x1000000, RAM_BASE, RAM_SIZE, &plan, &err), 0);
	assert_int_equal(plan.nr_segments, 1);
	check_segment(&plan.segment[0], RAM_BASE + 0x1000000, 0, 0x5000, 0x5000);
	assert_int_equal(plan.start, RAM_BASE + 0x1000000);
	assert_int_equal(plan.end, RAM_BASE + 0x1005000);
	check_error(loader_plan_blob(0, RAM_BASE, RAM_BASE, RAM_SIZE, &plan, &err), &err, EINVAL,
		    "initrd file is empty");
	check_error(loader_plan_blob(0x5000, RAM_BASE + RAM_SIZE - 0x1000, RAM_BASE, RAM_SIZE, &plan, &err),
		    &err, ENOSPC, "initrd at 0x4ffff000 (0x5000 bytes) needs 257 MiB");
	check_error(loader_plan_blob(0x5000, 0x1000, RAM_BASE, RAM_SIZE, &plan, &err), &err, ENOSPC,
		    "initrd [0x1000, +0x5000) lies outside RAM");
	check_error(loader_plan_blob(0x5000, UINT64_MAX - 0x100, RAM_BASE, RAM_SIZE, &plan, &err), &err,
		    ENOSPC, "lies outside RAM");
	check_error(loader_plan_blob(0x5000, UINT64_MAX - 0x100, UINT64_MAX - 0xfff, 0x1000, &plan, &err),
		    &err, EINVAL, "is empty or wraps");
	assert_int_equal(plan.nr_segments, 0);
}

static void test_format_names(void **state)
{
	enum kernel_format format = KERNEL_FORMAT_AUTO;

	(void)state;
	assert_int_equal(loader_parse_format("image", &format), 0);
	assert_int_equal(format, KERNEL_FORMAT_IMAGE);
	assert_int_equal(loader_parse_format("raw", &format), 0);
	assert_int_equal(format, KERNEL_FORMAT_RAW);
	assert_int_equal(loader_parse_format("elf", &format), 0);
	assert_int_equal(format, KERNEL_FORMAT_ELF);
	assert_int_equal(loader_parse_format("auto", &format), 0);
	assert_int_equal(format, KERNEL_FORMAT_AUTO);
	assert_int_equal(loader_parse_format("bzImage", &format), -EINVAL);
	assert_int_equal(loader_parse_format(NULL, &format), -EINVAL);
	assert_string_equal(loader_format_name(KERNEL_FORMAT_ELF), "elf");
	assert_string_equal(loader_format_name(KERNEL_FORMAT_RAW), "raw");
	assert_string_equal(loader_format_name((enum kernel_format)42), "unknown");
}

/* loader_apply: a file on disk, guest RAM poisoned with 0xaa. */
struct apply_env {
	char path[64];
	int fd;
	size_t page;
	struct guest_mem mem;
	uint8_t *data;
	size_t size;
};

static void apply_env_init(struct apply_env *env)
{
	env->page = (size_t)sysconf(_SC_PAGESIZE);
	env->size = 8 * env->page;
	env->data = malloc(env->size);
	assert_non_null(env->data);
	for (size_t i = 0; i < env->size; i++)
		env->data[i] = (uint8_t)(i * 7 + 3 + (i >> 8));
	strcpy(env->path, "/tmp/test_loader.XXXXXX");
	env->fd = mkstemp(env->path);
	assert_true(env->fd >= 0);
	assert_int_equal(write(env->fd, env->data, env->size), (ssize_t)env->size);
	assert_int_equal(guest_mem_init(&env->mem, RAM_BASE, 64 * env->page), 0);
	memset(env->mem.host, 0xaa, env->mem.size);
}

static void apply_env_destroy(struct apply_env *env)
{
	guest_mem_destroy(&env->mem);
	close(env->fd);
	unlink(env->path);
	free(env->data);
}

static bool file_is_mapped(const char *path)
{
	char line[512];
	bool found = false;
	FILE *maps = fopen("/proc/self/maps", "r");

	assert_non_null(maps);
	while (!found && fgets(line, sizeof(line), maps))
		found = strstr(line, path) != NULL;
	fclose(maps);
	return found;
}

static void check_applied(const struct apply_env *env, const struct load_segment *seg)
{
	const uint8_t *at = guest_mem_ptr(&env->mem, seg->gpa, seg->mem_size);

	assert_non_null(at);
	assert_memory_equal(at, env->data + seg->file_offset, seg->file_size);
	for (uint64_t i = seg->file_size; i < seg->mem_size; i++)
		if (at[i])
			fail_msg("bss byte 0x%llx is 0x%x", (unsigned long long)i, at[i]);
	assert_int_equal(at[-1], 0xaa);
	assert_int_equal(at[seg->mem_size], 0xaa);
}

/*
 * Images are copied, never mapped: a kernel rebuilt in place (cp over the
 * old file) while a VM runs must not change or fault the guest.
 */
static void apply_one(uint64_t gpa_offset, uint64_t file_offset)
{
	struct apply_env env;
	struct load_plan plan = { .nr_segments = 1 };
	struct errbuf err = { "" };
	struct load_segment *seg = &plan.segment[0];

	apply_env_init(&env);
	seg->gpa = RAM_BASE + gpa_offset;
	seg->file_offset = file_offset;
	seg->file_size = 3 * env.page + 0x123;
	seg->mem_size = 6 * env.page + 0x10;
	if (loader_apply(&env.mem, env.fd, &plan, &err))
		fail_msg("loader_apply: %s", err.msg);
	check_applied(&env, seg);
	assert_false(file_is_mapped(env.path));
	assert_int_equal(ftruncate(env.fd, 0), 0);
	check_applied(&env, seg);
	assert_int_equal(ftruncate(env.fd, env.size), 0);
	assert_int_equal(pwrite(env.fd, env.data, env.size, 0), (ssize_t)env.size);
	/* A second apply (guest reset) puts the same bytes back. */
	memset(env.mem.host, 0x55, env.mem.size);
	assert_int_equal(loader_apply(&env.mem, env.fd, &plan, &err), 0);
	assert_memory_equal(guest_mem_ptr(&env.mem, seg->gpa, 1), env.data + file_offset, seg->file_size);
	apply_env_destroy(&env);
}

static void test_apply_page_aligned(void **state)
{
	(void)state;
	apply_one(4 * sysconf(_SC_PAGESIZE), sysconf(_SC_PAGESIZE));
	apply_one(4 * sysconf(_SC_PAGESIZE) + 0x40, sysconf(_SC_PAGESIZE) + 0x40);
}

static void test_apply_unaligned(void **state)
{
	(void)state;
	apply_one(4 * sysconf(_SC_PAGESIZE), sysconf(_SC_PAGESIZE) + 1);
}

static void test_apply_elf_and_errors(void **state)
{
	struct apply_env env;
	struct load_plan plan;
	struct errbuf err = { "" };
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	(void)state;
	apply_env_init(&env);
	/* A real ELF in the file: two segments, both with bss. */
	elf_header(env.data, RAM_BASE + 0x10, 2);
	elf_phdr(env.data, 0, PT_LOAD, page, RAM_BASE, RAM_BASE, page + 5, 3 * page);
	elf_phdr(env.data, 1, PT_LOAD, 3 * page + 7, RAM_BASE + 8 * page, RAM_BASE + 8 * page, 0x300, 0x1000);
	assert_int_equal(pwrite(env.fd, env.data, 64 + 2 * 56, 0), 64 + 2 * 56);
	if (loader_plan_kernel(env.data, env.size, KERNEL_FORMAT_AUTO, env.mem.base, env.mem.size, &plan, &err))
		fail_msg("plan: %s", err.msg);
	assert_int_equal(loader_apply(&env.mem, env.fd, &plan, &err), 0);
	assert_memory_equal(env.mem.host, env.data + page, page + 5);
	for (size_t i = page + 5; i < 3 * page; i++)
		assert_int_equal(env.mem.host[i], 0);
	check_applied(&env, &plan.segment[1]);

	/* The file shrank after planning. */
	assert_int_equal(ftruncate(env.fd, 3 * page), 0);
	check_error(loader_apply(&env.mem, env.fd, &plan, &err), &err, EIO, "did it change?");
	/* A plan that does not fit this guest_mem. */
	plan.segment[0].gpa = RAM_BASE + env.mem.size - 0x10;
	plan.nr_segments = 1;
	check_error(loader_apply(&env.mem, env.fd, &plan, &err), &err, EFAULT, "is outside guest RAM");
	check_error(loader_apply(&env.mem, -1, &plan, &err), &err, EBADF, "cannot stat");
	apply_env_destroy(&env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_elf_one_segment),
		cmocka_unit_test(test_elf_three_segments),
		cmocka_unit_test(test_elf_high_va_entry),
		cmocka_unit_test(test_elf_truncated_header),
		cmocka_unit_test(test_elf_phdrs_beyond_eof),
		cmocka_unit_test(test_elf_offset_overflow),
		cmocka_unit_test(test_elf_filesz_over_memsz),
		cmocka_unit_test(test_elf_segment_outside_ram),
		cmocka_unit_test(test_elf_segment_wraps),
		cmocka_unit_test(test_elf_overlap),
		cmocka_unit_test(test_elf_too_many_segments),
		cmocka_unit_test(test_elf_no_load),
		cmocka_unit_test(test_elf_entry_outside),
		cmocka_unit_test(test_elf_wrong_ident),
		cmocka_unit_test(test_image_text_offset_0),
		cmocka_unit_test(test_image_text_offset_80000),
		cmocka_unit_test(test_image_errors),
		cmocka_unit_test(test_gzip_and_unknown),
		cmocka_unit_test(test_raw),
		cmocka_unit_test(test_blob),
		cmocka_unit_test(test_format_names),
		cmocka_unit_test(test_apply_page_aligned),
		cmocka_unit_test(test_apply_unaligned),
		cmocka_unit_test(test_apply_elf_and_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
