/* SPDX-License-Identifier: MIT */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/loader.h"

/*
 * Every format on every input, against a small and a default-sized RAM: the
 * parsers must never crash, and any plan they accept must be one that
 * loader_apply can carry out without touching bytes outside RAM or the file.
 */

#define RAM_BASE	0x40000000ULL

static void check(int ok)
{
	if (!ok)
		abort();
}

static void check_plan(const struct load_plan *plan, size_t size, uint64_t ram_size)
{
	int entry_inside = 0;

	check(plan->format != KERNEL_FORMAT_AUTO);
	check(plan->nr_segments >= 1 && plan->nr_segments <= LOADER_MAX_SEGMENTS);
	check(plan->start >= RAM_BASE && plan->start < plan->end);
	check(plan->end <= RAM_BASE + ram_size);
	check(plan->entry >= plan->start && plan->entry < plan->end);
	for (unsigned i = 0; i < plan->nr_segments; i++) {
		const struct load_segment *seg = &plan->segment[i];

		check(seg->mem_size > 0 && seg->file_size <= seg->mem_size);
		check(seg->file_offset <= size && seg->file_size <= size - seg->file_offset);
		check(seg->gpa >= plan->start && seg->mem_size <= plan->end - seg->gpa);
		entry_inside |= plan->entry - seg->gpa < seg->mem_size;
		for (unsigned j = 0; j < i; j++) {
			const struct load_segment *other = &plan->segment[j];

			check(seg->gpa >= other->gpa + other->mem_size ||
			      other->gpa >= seg->gpa + seg->mem_size);
		}
	}
	check(entry_inside);
}

static void fuzz_one(const uint8_t *data, size_t size, enum kernel_format format,
		     uint64_t ram_size)
{
	struct load_plan plan;
	struct errbuf err = { "" };
	int ret = loader_plan_kernel(data, size, format, RAM_BASE, ram_size, &plan, &err);

	if (ret) {
		check(ret < 0 && err.msg[0] && plan.nr_segments == 0);
		return;
	}
	check(format == KERNEL_FORMAT_AUTO || plan.format == format);
	check_plan(&plan, size, ram_size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t ram_sizes[] = { 4ULL << 20, 256ULL << 20 };
	static const enum kernel_format formats[] = {
		KERNEL_FORMAT_AUTO, KERNEL_FORMAT_ELF, KERNEL_FORMAT_IMAGE, KERNEL_FORMAT_RAW,
	};
	struct load_plan plan;
	uint64_t gpa = 0;

	for (unsigned r = 0; r < sizeof(ram_sizes) / sizeof(ram_sizes[0]); r++)
		for (unsigned f = 0; f < sizeof(formats) / sizeof(formats[0]); f++)
			fuzz_one(data, size, formats[f], ram_sizes[r]);

	/* The blob planner takes no bytes: let the first eight pick its address. */
	memcpy(&gpa, data, size < sizeof(gpa) ? size : sizeof(gpa));
	if (loader_plan_blob(size, gpa, RAM_BASE, 4ULL << 20, &plan, NULL) == 0)
		check_plan(&plan, size, 4ULL << 20);
	return 0;
}
