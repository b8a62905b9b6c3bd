/* SPDX-License-Identifier: MIT */
#ifndef BMVM_HOST_ABI_H
#define BMVM_HOST_ABI_H

/*
 * The host's file facts in the terms a Linux guest reads them (9p puts
 * them on the wire): errno values, device numbers, stat times.
 *
 * Linux: the host's own numbers already are. POSIX (macOS too): a table
 * from the host's errno names to Linux's numbers; device numbers through
 * the host's major()/minor().
 */

#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Which host variant this build has: "linux" or "posix" (tests, --version). */
extern const char host_variant[];

/* A host errno as Linux's number for it (EIO's, 5, for one Linux lacks). */
uint32_t abi_linux_errno(int host_errno);

/* A device number as Linux's new_encode_dev() writes it (9p's st_rdev). */
uint64_t abi_linux_dev(dev_t dev);

/* The host's device number for a Linux major and minor (9p's Tmknod). */
dev_t abi_host_dev(uint32_t major, uint32_t minor);

/* struct stat's times, as struct timespec: macOS names them differently. */
#ifdef __APPLE__
#define ABI_ST_ATIM(st)	((st)->st_atimespec)
#define ABI_ST_MTIM(st)	((st)->st_mtimespec)
#define ABI_ST_CTIM(st)	((st)->st_ctimespec)
#else
#define ABI_ST_ATIM(st)	((st)->st_atim)
#define ABI_ST_MTIM(st)	((st)->st_mtim)
#define ABI_ST_CTIM(st)	((st)->st_ctim)
#endif

#endif
