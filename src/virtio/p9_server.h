/* SPDX-License-Identifier: MIT */
#ifndef BMVM_VIRTIO_P9_SERVER_H
#define BMVM_VIRTIO_P9_SERVER_H

/*
 * A 9P2000.L file server for one shared host directory, as Linux's v9fs
 * speaks it. No transport and no threads: the virtio-9p device hands it one
 * request at a time as scatter lists and completes the chain with the
 * number of bytes it returns. Not thread-safe: one caller at a time (the
 * device thread).
 *
 * Confinement: the guest names files only by single path components
 * relative to fids the server keeps. Every host path is resolved beneath the
 * share's directory fd without following any symlink (openat2 with
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS on Linux, an O_NOFOLLOW walk one
 * component at a time elsewhere). Symlinks are content: Treadlink returns
 * their target and the guest resolves it in its own view. Walking through a
 * symlink fails (ENOTDIR: its qid is no directory; ELOOP should a symlink
 * turn up inside a fid's path, where openat2 would say EXDEV for a way out),
 * opening one fails with ELOOP, and attributes set on one are the link's own
 * (chmod: EOPNOTSUPP). "", "." and names with '/' fail with EINVAL; ".." is
 * only walked, and at the root it stays at the root. Only regular files and
 * directories are ever opened on the host (others: ENXIO), so a guest cannot
 * make the server block on a FIFO or open a device node.
 *
 * Bounds: P9_MAX_FIDS fids (then ENFILE) holding 16 MiB of paths at most,
 * 4096 of them open and 1024 of those directories (then EMFILE); requests
 * other than Twrite of 8 KiB at most (EMSGSIZE; the largest legal one,
 * Tsymlink, is ~4.4 KiB); no allocation sized by the guest. A huge Twrite
 * offset or Tsetattr size gets EFBIG from the host, but where the process
 * has an RLIMIT_FSIZE the caller must ignore SIGXFSZ.
 *
 * Errors go back as Rlerror with Linux errno values (p9_fs_errno()).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct errbuf;
struct p9_server;

struct p9_server_config {
	const char *root;	/* the shared directory */
	bool read_only;		/* every modifying request fails with EROFS */
	uint32_t msize_max;	/* largest msize to agree to; 0: P9_MSIZE_DEFAULT */
	/* Tests: resolve paths with the portable walk even where openat2 works. */
	bool portable_resolve;
};

#define P9_MSIZE_DEFAULT	(512u * 1024)
#define P9_MSIZE_MIN		4096u		/* smaller Tversion msize: "unknown" */
#define P9_MSIZE_LIMIT		(16u * 1024 * 1024)
#define P9_MAX_FIDS		65536u		/* more: ENFILE */

/* Opens the root directory; -errno with @err set on failure. */
int p9_server_create(struct p9_server **srv, const struct p9_server_config *cfg,
		     struct errbuf *err);
void p9_server_destroy(struct p9_server *srv);

/* Drop every fid and forget the negotiated version (virtio reset). */
void p9_server_reset(struct p9_server *srv);

/*
 * Handle one request: @req_len bytes spread over @req, the reply written
 * into @resp (@resp_cap bytes at most). Returns the reply's length, always a
 * whole 9p message (the R-message or an Rlerror), or 0 when the request is
 * too short to carry a tag or @resp cannot hold an Rlerror. Rread and
 * Rreaddir data go straight into the @resp buffers after the 11-byte header,
 * and Twrite data is written from the @req buffers where it lies.
 */
size_t p9_server_handle(struct p9_server *srv, const struct iovec *req, unsigned nreq,
			size_t req_len, const struct iovec *resp, unsigned nresp,
			size_t resp_cap);

/* ---- the wire protocol (9P2000.L), for the server and its tests --------- */

enum p9_type {
	P9_TLERROR = 6, P9_RLERROR,
	P9_TSTATFS = 8, P9_RSTATFS,
	P9_TLOPEN = 12, P9_RLOPEN,
	P9_TLCREATE = 14, P9_RLCREATE,
	P9_TSYMLINK = 16, P9_RSYMLINK,
	P9_TMKNOD = 18, P9_RMKNOD,
	P9_TRENAME = 20, P9_RRENAME,
	P9_TREADLINK = 22, P9_RREADLINK,
	P9_TGETATTR = 24, P9_RGETATTR,
	P9_TSETATTR = 26, P9_RSETATTR,
	P9_TXATTRWALK = 30, P9_RXATTRWALK,
	P9_TXATTRCREATE = 32, P9_RXATTRCREATE,
	P9_TREADDIR = 40, P9_RREADDIR,
	P9_TFSYNC = 50, P9_RFSYNC,
	P9_TLOCK = 52, P9_RLOCK,
	P9_TGETLOCK = 54, P9_RGETLOCK,
	P9_TLINK = 70, P9_RLINK,
	P9_TMKDIR = 72, P9_RMKDIR,
	P9_TRENAMEAT = 74, P9_RRENAMEAT,
	P9_TUNLINKAT = 76, P9_RUNLINKAT,
	P9_TVERSION = 100, P9_RVERSION,
	P9_TAUTH = 102, P9_RAUTH,
	P9_TATTACH = 104, P9_RATTACH,
	P9_TFLUSH = 108, P9_RFLUSH,
	P9_TWALK = 110, P9_RWALK,
	P9_TREAD = 116, P9_RREAD,
	P9_TWRITE = 118, P9_RWRITE,
	P9_TCLUNK = 120, P9_RCLUNK,
	P9_TREMOVE = 122, P9_RREMOVE,
};

#define P9_NOTAG		0xffffu
#define P9_NOFID		0xffffffffu
#define P9_MAXWELEM		16
#define P9_HDR_SIZE		7	/* size[4] type[1] tag[2] */
#define P9_IOHDR_SIZE		11	/* Rread / Rreaddir: header + count[4] */
#define P9_TWRITE_HDR_SIZE	23	/* header + fid[4] offset[8] count[4] */

/* qid.type */
#define P9_QT_DIR		0x80
#define P9_QT_SYMLINK		0x02
#define P9_QT_FILE		0x00
#define P9_QID_SIZE		13

/* Tlopen / Tlcreate flags: Linux's generic (x86) O_* values, on every guest arch. */
#define P9_DOTL_RDONLY		00000000
#define P9_DOTL_WRONLY		00000001
#define P9_DOTL_RDWR		00000002
#define P9_DOTL_NOACCESS	00000003
#define P9_DOTL_ACCMODE		00000003
#define P9_DOTL_CREATE		00000100
#define P9_DOTL_EXCL		00000200
#define P9_DOTL_NOCTTY		00000400
#define P9_DOTL_TRUNC		00001000
#define P9_DOTL_APPEND		00002000
#define P9_DOTL_NONBLOCK	00004000
#define P9_DOTL_DSYNC		00010000
#define P9_DOTL_FASYNC		00020000
#define P9_DOTL_DIRECT		00040000
#define P9_DOTL_LARGEFILE	00100000
#define P9_DOTL_DIRECTORY	00200000
#define P9_DOTL_NOFOLLOW	00400000
#define P9_DOTL_NOATIME		01000000
#define P9_DOTL_CLOEXEC		02000000
#define P9_DOTL_SYNC		04000000

/* Tgetattr request_mask / Rgetattr valid */
#define P9_GETATTR_BASIC	0x000007ffull	/* mode .. blocks */

/* Tsetattr valid */
#define P9_SETATTR_MODE		0x001
#define P9_SETATTR_UID		0x002
#define P9_SETATTR_GID		0x004
#define P9_SETATTR_SIZE		0x008
#define P9_SETATTR_ATIME	0x010
#define P9_SETATTR_MTIME	0x020
#define P9_SETATTR_CTIME	0x040
#define P9_SETATTR_ATIME_SET	0x080
#define P9_SETATTR_MTIME_SET	0x100

/* Tunlinkat flags */
#define P9_AT_REMOVEDIR		0x200

/* Tlock / Tgetlock */
#define P9_LOCK_TYPE_RDLCK	0
#define P9_LOCK_TYPE_WRLCK	1
#define P9_LOCK_TYPE_UNLCK	2
#define P9_LOCK_SUCCESS		0

/* Rstatfs type: V9FS_MAGIC */
#define P9_STATFS_MAGIC		0x01021997u

#endif
