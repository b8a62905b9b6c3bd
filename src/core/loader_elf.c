/* SPDX-License-Identifier: MIT */
#include "core/loader_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

/* ELF64 layout (System V gABI), spelled out so this builds without <elf.h> (macOS). */
#define ELF_IDENT_SIZE	16
#define ELF_EHDR_SIZE	64
#define ELF_PHDR_SIZE	56
#define ELFCLASS64	2
#define ELFDATA2LSB	1
#define ET_EXEC		2
#define ET_DYN		3
#define EM_AARCH64	183
#define PT_LOAD		1

/* What the plan does not keep but error messages and entry resolution need. */
struct elf_extra {
	unsigned phdr[LOADER_MAX_SEGMENTS];
	uint64_t vaddr[LOADER_MAX_SEGMENTS];
};

static int elf_check_header(const uint8_t *file, size_t file_size, struct errbuf *err)
{
	uint16_t type, machine;

	if (!loader_has_magic(file, file_size, 0, LOADER_ELF_MAGIC, 4))
		return err_set(err, ENOEXEC, "not an ELF file (no \\x7f\"ELF\" magic at offset 0)");
	if (file_size < ELF_IDENT_SIZE)
		return err_set(err, EINVAL, "ELF header truncated: file is %zu bytes", file_size);
	if (file[4] != ELFCLASS64)
		return err_set(err, ENOEXEC, "ELF class %u is not ELF64 (a 32-bit ELF?); bmvm boots 64-bit arm64 kernels",
			       file[4]);
	if (file[5] != ELFDATA2LSB)
		return err_set(err, ENOEXEC, "big-endian ELF (data encoding %u); bmvm boots little-endian arm64 kernels",
			       file[5]);
	if (file_size < ELF_EHDR_SIZE)
		return err_set(err, EINVAL, "ELF header truncated: file is %zu bytes, the header needs %d",
			       file_size, ELF_EHDR_SIZE);
	machine = loader_le16(file + 18);
	if (machine != EM_AARCH64)
		return err_set(err, ENOEXEC, "ELF e_machine %u is not AArch64 (%d)", machine, EM_AARCH64);
	type = loader_le16(file + 16);
	if (type != ET_EXEC && type != ET_DYN)
		return err_set(err, ENOEXEC, "ELF e_type %u is neither ET_EXEC (2) nor ET_DYN (3)", type);
	return 0;
}

static int elf_check_overlap(const struct load_plan *plan, const struct elf_extra *extra,
			     unsigned phdr, uint64_t gpa, uint64_t size, struct errbuf *err)
{
	for (unsigned i = 0; i < plan->nr_segments; i++) {
		const struct load_segment *seg = &plan->segment[i];

		if (gpa < seg->gpa + seg->mem_size && seg->gpa < gpa + size)
			return err_set(err, EINVAL,
				       "ELF segments %u [0x%" PRIx64 ", 0x%" PRIx64 ") and %u [0x%" PRIx64 ", 0x%" PRIx64 ") overlap",
				       extra->phdr[i], seg->gpa, seg->gpa + seg->mem_size, phdr, gpa, gpa + size);
	}
	return 0;
}

static int elf_add_segment(const uint8_t *ph, unsigned phdr, size_t file_size,
			   uint64_t ram_base, uint64_t ram_size, struct load_plan *plan,
			   struct elf_extra *extra, struct errbuf *err)
{
	uint64_t offset = loader_le64(ph + 8), vaddr = loader_le64(ph + 16);
	uint64_t paddr = loader_le64(ph + 24), filesz = loader_le64(ph + 32);
	uint64_t memsz = loader_le64(ph + 40);
	char what[40];
	int ret;

	if (filesz > memsz)
		return err_set(err, EINVAL, "ELF segment %u: p_filesz 0x%" PRIx64 " exceeds p_memsz 0x%" PRIx64,
			       phdr, filesz, memsz);
	if (memsz == 0)
		return 0;
	if (offset > file_size || filesz > file_size - offset)
		return err_set(err, EINVAL,
			       "ELF segment %u: file bytes [0x%" PRIx64 ", +0x%" PRIx64 ") extend beyond the end of the file (0x%zx bytes)",
			       phdr, offset, filesz, file_size);
	if (memsz > UINT64_MAX - paddr)
		return err_set(err, EINVAL, "ELF segment %u [0x%" PRIx64 ", +0x%" PRIx64 ") wraps around the 64-bit address space",
			       phdr, paddr, memsz);
	snprintf(what, sizeof(what), "ELF segment %u", phdr);
	ret = loader_check_ram(what, paddr, memsz, ram_base, ram_size, err);
	if (!ret)
		ret = elf_check_overlap(plan, extra, phdr, paddr, memsz, err);
	if (!ret && plan->nr_segments == LOADER_MAX_SEGMENTS)
		ret = err_set(err, EINVAL, "ELF has more than %d loadable segments", LOADER_MAX_SEGMENTS);
	if (ret)
		return ret;
	extra->phdr[plan->nr_segments] = phdr;
	extra->vaddr[plan->nr_segments] = vaddr;
	loader_plan_add(plan, paddr, offset, filesz, memsz);
	return 0;
}

/*
 * Kernels linked at a high virtual address give a virtual e_entry: translate
 * it through the segment that holds it. Else accept a physical entry.
 */
static int elf_resolve_entry(uint64_t entry, struct load_plan *plan,
			     const struct elf_extra *extra, struct errbuf *err)
{
	const struct load_segment *seg;
	unsigned i;

	for (i = 0, seg = plan->segment; i < plan->nr_segments; i++, seg++) {
		if (entry >= extra->vaddr[i] && entry - extra->vaddr[i] < seg->mem_size) {
			plan->entry = seg->gpa + (entry - extra->vaddr[i]);
			return 0;
		}
	}
	for (i = 0, seg = plan->segment; i < plan->nr_segments; i++, seg++) {
		if (entry >= seg->gpa && entry - seg->gpa < seg->mem_size) {
			plan->entry = entry;
			return 0;
		}
	}
	return err_set(err, EINVAL, "ELF entry point 0x%" PRIx64 " is outside every loadable segment", entry);
}

int loader_plan_elf(const uint8_t *file, size_t file_size, uint64_t ram_base,
		    uint64_t ram_size, struct load_plan *plan, struct errbuf *err)
{
	struct elf_extra extra;
	uint64_t phoff;
	unsigned phentsize, phnum;
	int ret = elf_check_header(file, file_size, err);

	if (ret)
		return ret;
	phoff = loader_le64(file + 32);
	phentsize = loader_le16(file + 54);
	phnum = loader_le16(file + 56);
	if (phnum == 0)
		return err_set(err, EINVAL, "ELF has no program headers (e_phnum 0)");
	if (phentsize != ELF_PHDR_SIZE)
		return err_set(err, EINVAL, "ELF e_phentsize %u, expected %d", phentsize, ELF_PHDR_SIZE);
	if (phoff > file_size || (uint64_t)phnum * ELF_PHDR_SIZE > file_size - phoff)
		return err_set(err, EINVAL,
			       "ELF program headers [0x%" PRIx64 ", +%u x %d bytes) extend beyond the end of the file (0x%zx bytes)",
			       phoff, phnum, ELF_PHDR_SIZE, file_size);
	for (unsigned i = 0; i < phnum; i++) {
		const uint8_t *ph = file + phoff + (uint64_t)i * ELF_PHDR_SIZE;

		if (loader_le32(ph) != PT_LOAD)
			continue;
		ret = elf_add_segment(ph, i, file_size, ram_base, ram_size, plan, &extra, err);
		if (ret)
			return ret;
	}
	if (plan->nr_segments == 0)
		return err_set(err, EINVAL, "ELF has no loadable (PT_LOAD) segment of non-zero size");
	return elf_resolve_entry(loader_le64(file + 24), plan, &extra, err);
}
