/* SPDX-License-Identifier: MIT */
#ifndef BMVM_GPU_PROTOCOL_H
#define BMVM_GPU_PROTOCOL_H

/*
 * The bmvm GPU command stream: what a guest sends, as a virtio-gpu context
 * of type BMGPU_CAPSET_ID, in the command buffers of SUBMIT_3D, for bmvm's
 * renderer to replay on the host's graphics API. This header is the source
 * of truth guest authors build against (docs/PROTOCOL.md explains it); it
 * needs nothing but a C compiler: no libc, no Vulkan, no virtio headers.
 *
 * Status: bmvm checks every stream against this format (src/gpu/stream.c)
 * and its renderer replays what passes on Vulkan (src/render/vk.c),
 * compiling GLSL source with shaderc; blob-backed buffers read the guest's
 * memory at each submit that uses them. Not yet: a watchdog for endless
 * shaders (docs/PROTOCOL.md, section 4).
 *
 * Encoding. A stream is a sequence of commands, all little-endian, each
 * starting with a 4-byte header:
 *	u16 method	BMGPU_* below
 *	u16 words	the command's length in 32-bit words, header included (>= 1)
 * followed by the method's fields. A command may be longer than its fixed
 * fields when the method carries data (shader code, bytes, texels); such
 * data is padded with zeros to a whole word. Commands never straddle two
 * SUBMIT_3D buffers.
 *
 * Objects are named by guest-assigned u32 handles, one namespace per
 * context for all kinds of object. Handle 0 means "none";
 * BMGPU_DRAWABLE names the display's current frame (scanout 0) as a render
 * target. A handle is free again after BMGPU_DESTROY.
 *
 * Errors. A command that fails a check is skipped, as if it were absent,
 * and yields an error record (struct bmgpu_error) with its byte offset in
 * the submitted buffer, its method and a reason; the rest of the buffer
 * still runs. A command inside a pass that failed to begin is skipped
 * without a record of its own. Records go to the context's status page
 * (BMGPU_SET_STATUS: a blob resource the guest reads), so a guest sees
 * them without a round trip per command.
 */

#include <stdint.h>

/*
 * The virtio-gpu capset and context type (VIRTIO_GPU_F_CONTEXT_INIT). Below
 * 31 on purpose: stock Linux up to 6.x keeps its capset mask with an int
 * shift (1 << id), so it cannot offer a context of a higher id to its
 * programs; and clear of the ids the virtio spec assigns (1-8).
 */
#define BMGPU_CAPSET_ID		30
#define BMGPU_CAPSET_VERSION	1
#define BMGPU_MAGIC		0x50474d42u	/* "BMGP" */

/* GET_CAPSET of BMGPU_CAPSET_ID answers this. */
struct bmgpu_capset {
	uint32_t magic;			/* BMGPU_MAGIC */
	uint32_t version;		/* BMGPU_CAPSET_VERSION */
	uint32_t features;		/* BMGPU_FEATURE_* */
	uint32_t max_handles;		/* live objects per context */
	uint32_t max_texture_size;	/* width and height */
	uint32_t max_buffer_size;	/* bytes */
	uint32_t max_submit_size;	/* bytes of one SUBMIT_3D buffer */
	uint32_t max_inline_bytes;	/* SET_*_BYTES data */
	uint32_t max_slots;		/* buffer, texture and sampler slots per stage */
	uint32_t max_vertex_attributes;
	uint32_t sample_counts;		/* bit n: 2^n samples supported (1 and 4) */
	uint32_t reserved[5];
};

#define BMGPU_FEATURE_COMPUTE	(1u << 0)
#define BMGPU_FEATURE_GLSL	(1u << 1)	/* GLSL source accepted (compiled on the host) */
#define BMGPU_FEATURE_BLOB	(1u << 2)	/* buffers backed by blob resources */

#define BMGPU_DRAWABLE		0xffffffffu

/* Command methods. */
enum bmgpu_method {
	BMGPU_NOP			= 0,	/* any payload, ignored (padding) */
	/* Objects */
	BMGPU_CREATE_SHADER		= 1,
	BMGPU_CREATE_RENDER_PIPELINE	= 2,
	BMGPU_CREATE_COMPUTE_PIPELINE	= 3,
	BMGPU_CREATE_DEPTH_STENCIL	= 4,
	BMGPU_CREATE_SAMPLER		= 5,
	BMGPU_CREATE_TEXTURE		= 6,
	BMGPU_CREATE_BUFFER		= 7,
	BMGPU_UPLOAD_TEXTURE		= 8,
	BMGPU_UPLOAD_BUFFER		= 9,
	BMGPU_DESTROY			= 10,
	/* Passes */
	BMGPU_BEGIN_RENDER_PASS		= 16,
	BMGPU_BEGIN_COMPUTE_PASS	= 17,
	BMGPU_BEGIN_BLIT_PASS		= 18,
	BMGPU_END_PASS			= 19,
	/* Render pass state and draws */
	BMGPU_SET_RENDER_PIPELINE	= 32,
	BMGPU_SET_DEPTH_STENCIL		= 33,
	BMGPU_SET_VIEWPORT		= 34,
	BMGPU_SET_SCISSOR		= 35,
	BMGPU_SET_BYTES			= 36,	/* stage, slot, inline data */
	BMGPU_SET_BUFFER		= 37,	/* stage, slot, buffer, offset */
	BMGPU_SET_TEXTURE		= 38,	/* stage, slot, texture */
	BMGPU_SET_SAMPLER		= 39,	/* stage, slot, sampler */
	BMGPU_DRAW			= 40,
	BMGPU_DRAW_INDEXED		= 41,
	/* Compute pass */
	BMGPU_SET_COMPUTE_PIPELINE	= 48,
	BMGPU_DISPATCH			= 49,
	/* Blit pass */
	BMGPU_COPY_TEXTURE		= 56,
	/* Frames and the cursor plane */
	BMGPU_PRESENT			= 64,
	BMGPU_SET_CURSOR_IMAGE		= 65,
	BMGPU_SET_CURSOR		= 66,
	/* The context's status page */
	BMGPU_SET_STATUS		= 80,
	BMGPU_METHOD_COUNT
};

/* Every command starts with this. */
struct bmgpu_header {
	uint16_t method;
	uint16_t words;
};

/* ---- objects --------------------------------------------------------- */

enum bmgpu_shader_kind {
	BMGPU_SHADER_SPIRV	= 0,	/* a SPIR-V module (1.0-1.5), validated before use */
	BMGPU_SHADER_GLSL_VERTEX = 1,	/* GLSL source, with BMGPU_FEATURE_GLSL */
	BMGPU_SHADER_GLSL_FRAGMENT = 2,
	BMGPU_SHADER_GLSL_COMPUTE = 3,
};

/* Followed by code_bytes of code (SPIR-V words, or GLSL text without a NUL). */
struct bmgpu_create_shader {
	struct bmgpu_header hdr;
	uint32_t handle;
	uint32_t kind;			/* enum bmgpu_shader_kind */
	uint32_t code_bytes;
};

enum bmgpu_format {
	BMGPU_FORMAT_INVALID	= 0,
	BMGPU_FORMAT_BGRA8	= 1,	/* the drawable's format */
	BMGPU_FORMAT_RGBA8	= 2,
	BMGPU_FORMAT_BGRA8_SRGB	= 3,
	BMGPU_FORMAT_RGBA8_SRGB	= 4,
	BMGPU_FORMAT_R8		= 5,
	BMGPU_FORMAT_RGBA16F	= 6,
	BMGPU_FORMAT_DEPTH32F	= 7,
	BMGPU_FORMAT_STENCIL8	= 8,
	BMGPU_FORMAT_DEPTH32F_STENCIL8 = 9,
	BMGPU_FORMAT_COUNT
};

/* Vertex attribute formats. */
enum bmgpu_attr_format {
	BMGPU_ATTR_FLOAT	= 1,
	BMGPU_ATTR_FLOAT2	= 2,
	BMGPU_ATTR_FLOAT3	= 3,
	BMGPU_ATTR_FLOAT4	= 4,
	BMGPU_ATTR_UCHAR4_NORM	= 5,
	BMGPU_ATTR_COUNT
};

#define BMGPU_MAX_ATTRIBUTES	8

struct bmgpu_vertex_attr {
	uint32_t format;		/* enum bmgpu_attr_format; 0: unused */
	uint32_t offset;		/* within a vertex */
	uint32_t location;		/* the shader's input location */
};

/*
 * The reference vertex layout (nr_attributes = 0 selects it): 32 bytes a
 * vertex, float2 position at 0 (location 0), float2 texcoord at 8
 * (location 1), float4 colour at 16 (location 2).
 */
#define BMGPU_REFERENCE_STRIDE	32

enum bmgpu_blend_factor {
	BMGPU_BLEND_ZERO = 0, BMGPU_BLEND_ONE = 1, BMGPU_BLEND_SRC_ALPHA = 2,
	BMGPU_BLEND_ONE_MINUS_SRC_ALPHA = 3, BMGPU_BLEND_DST_ALPHA = 4,
	BMGPU_BLEND_ONE_MINUS_DST_ALPHA = 5, BMGPU_BLEND_SRC_COLOR = 6,
	BMGPU_BLEND_ONE_MINUS_SRC_COLOR = 7, BMGPU_BLEND_COUNT
};

enum bmgpu_topology {
	BMGPU_TRIANGLES = 0, BMGPU_TRIANGLE_STRIP = 1, BMGPU_LINES = 2,
	BMGPU_LINE_STRIP = 3, BMGPU_POINTS = 4, BMGPU_TOPOLOGY_COUNT
};

#define BMGPU_WRITE_R	1u
#define BMGPU_WRITE_G	2u
#define BMGPU_WRITE_B	4u
#define BMGPU_WRITE_A	8u
#define BMGPU_WRITE_ALL	15u

struct bmgpu_create_render_pipeline {
	struct bmgpu_header hdr;
	uint32_t handle;
	uint32_t vertex_shader, fragment_shader;	/* SPIR-V entry point "main" */
	uint32_t topology;		/* enum bmgpu_topology */
	uint32_t color_format;		/* enum bmgpu_format (a colour format) */
	uint32_t depth_format;		/* BMGPU_FORMAT_DEPTH32F..., or 0 */
	uint32_t sample_count;		/* 1 or 4 */
	uint32_t blend_enable;		/* 0 or 1 */
	uint32_t src_color, dst_color, src_alpha, dst_alpha;	/* enum bmgpu_blend_factor */
	uint32_t write_mask;		/* BMGPU_WRITE_* */
	uint32_t vertex_stride;		/* bytes; 0 with nr_attributes 0 */
	uint32_t nr_attributes;		/* 0: the reference layout */
	struct bmgpu_vertex_attr attr[BMGPU_MAX_ATTRIBUTES];
};

struct bmgpu_create_compute_pipeline {
	struct bmgpu_header hdr;
	uint32_t handle;
	uint32_t shader;
	uint32_t threads_x, threads_y, threads_z;	/* must match the shader's local size */
};

enum bmgpu_compare {
	BMGPU_NEVER = 0, BMGPU_LESS = 1, BMGPU_EQUAL = 2, BMGPU_LESS_EQUAL = 3,
	BMGPU_GREATER = 4, BMGPU_NOT_EQUAL = 5, BMGPU_GREATER_EQUAL = 6, BMGPU_ALWAYS = 7,
	BMGPU_COMPARE_COUNT
};

enum bmgpu_stencil_op {
	BMGPU_KEEP = 0, BMGPU_ZERO = 1, BMGPU_REPLACE = 2, BMGPU_INCREMENT_CLAMP = 3,
	BMGPU_DECREMENT_CLAMP = 4, BMGPU_INVERT = 5, BMGPU_INCREMENT_WRAP = 6,
	BMGPU_DECREMENT_WRAP = 7, BMGPU_STENCIL_OP_COUNT
};

struct bmgpu_create_depth_stencil {
	struct bmgpu_header hdr;
	uint32_t handle;
	uint32_t depth_compare;		/* enum bmgpu_compare */
	uint32_t depth_write;		/* 0 or 1 */
	uint32_t stencil_enable;	/* 0 or 1 */
	uint32_t stencil_compare;
	uint32_t stencil_fail, depth_fail, pass;	/* enum bmgpu_stencil_op */
	uint32_t read_mask, write_mask;	/* low 8 bits */
	uint32_t reference;		/* low 8 bits */
};

enum bmgpu_filter { BMGPU_NEAREST = 0, BMGPU_LINEAR = 1, BMGPU_FILTER_COUNT };
enum bmgpu_address {
	BMGPU_CLAMP_TO_EDGE = 0, BMGPU_REPEAT = 1, BMGPU_MIRRORED_REPEAT = 2,
	BMGPU_ADDRESS_COUNT
};

struct bmgpu_create_sampler {
	struct bmgpu_header hdr;
	uint32_t handle;
	uint32_t min_filter, mag_filter;	/* enum bmgpu_filter */
	uint32_t address_u, address_v;		/* enum bmgpu_address */
};

#define BMGPU_TEXTURE_SAMPLED	1u	/* read by shaders */
#define BMGPU_TEXTURE_TARGET	2u	/* rendered to */
#define BMGPU_TEXTURE_STORAGE	4u	/* written by compute */

struct bmgpu_create_texture {
	struct bmgpu_header hdr;
	uint32_t handle;
	uint32_t width, height;
	uint32_t format;		/* enum bmgpu_format */
	uint32_t sample_count;		/* 1 or 4; 4 only for render targets */
	uint32_t usage;			/* BMGPU_TEXTURE_* */
};

/*
 * A buffer lives on the host; with blob_resource non-zero (and
 * BMGPU_FEATURE_BLOB) its contents are that blob resource's guest memory
 * from blob_offset on, read before each SUBMIT_3D that uses it (creates,
 * binds or draws indices from it), so large data needs no copy through the
 * stream. The host's own writes to it do not reach guest memory.
 */
struct bmgpu_create_buffer {
	struct bmgpu_header hdr;
	uint32_t handle;
	uint32_t size;
	uint32_t blob_resource;
	uint32_t blob_offset;
};

/* Followed by width * height texels, rows packed (4 bytes a texel, 1 for R8, 8 for RGBA16F). */
struct bmgpu_upload_texture {
	struct bmgpu_header hdr;
	uint32_t handle;
	uint32_t x, y, width, height;
};

/* Followed by size bytes. */
struct bmgpu_upload_buffer {
	struct bmgpu_header hdr;
	uint32_t handle;
	uint32_t offset;
	uint32_t size;
};

struct bmgpu_destroy {
	struct bmgpu_header hdr;
	uint32_t handle;
};

/* ---- passes ------------------------------------------------------------ */

enum bmgpu_load { BMGPU_LOAD_DONT_CARE = 0, BMGPU_LOAD_LOAD = 1, BMGPU_LOAD_CLEAR = 2 };
enum bmgpu_store {
	BMGPU_STORE_DONT_CARE = 0, BMGPU_STORE_STORE = 1, BMGPU_STORE_RESOLVE = 2,
	BMGPU_STORE_STORE_AND_RESOLVE = 3
};

struct bmgpu_begin_render_pass {
	struct bmgpu_header hdr;
	uint32_t color_target;		/* a TARGET texture, or BMGPU_DRAWABLE */
	uint32_t resolve_target;	/* with a RESOLVE store: single-sample, same size */
	uint32_t load, store;		/* enum bmgpu_load, enum bmgpu_store */
	float clear_color[4];		/* r, g, b, a */
	uint32_t depth_target;		/* a depth/stencil texture, or 0 */
	uint32_t depth_load, depth_store;
	float clear_depth;
	uint32_t clear_stencil;
};

struct bmgpu_begin_pass {		/* BEGIN_COMPUTE_PASS, BEGIN_BLIT_PASS, END_PASS, PRESENT */
	struct bmgpu_header hdr;
};

struct bmgpu_set_handle {		/* SET_RENDER_PIPELINE, SET_DEPTH_STENCIL, SET_COMPUTE_PIPELINE */
	struct bmgpu_header hdr;
	uint32_t handle;
};

struct bmgpu_set_viewport {
	struct bmgpu_header hdr;
	float x, y, width, height, min_depth, max_depth;
};

struct bmgpu_set_scissor {
	struct bmgpu_header hdr;
	uint32_t x, y, width, height;
};

enum bmgpu_stage { BMGPU_STAGE_VERTEX = 0, BMGPU_STAGE_FRAGMENT = 1, BMGPU_STAGE_COMPUTE = 2 };

/* Followed by size bytes (at most max_inline_bytes), bound as a uniform block. */
struct bmgpu_set_bytes {
	struct bmgpu_header hdr;
	uint32_t stage, slot;
	uint32_t size;
};

struct bmgpu_set_buffer {
	struct bmgpu_header hdr;
	uint32_t stage, slot;
	uint32_t buffer;
	uint32_t offset;
};

struct bmgpu_set_slot {			/* SET_TEXTURE, SET_SAMPLER */
	struct bmgpu_header hdr;
	uint32_t stage, slot;
	uint32_t handle;
};

/* Vertex buffer slot 0 (SET_BUFFER, vertex stage) feeds the pipeline's layout. */
struct bmgpu_draw {
	struct bmgpu_header hdr;
	uint32_t vertex_start, vertex_count;
	uint32_t instance_count;	/* >= 1 */
};

enum bmgpu_index_type { BMGPU_INDEX_U16 = 0, BMGPU_INDEX_U32 = 1 };

struct bmgpu_draw_indexed {
	struct bmgpu_header hdr;
	uint32_t index_buffer, index_offset;
	uint32_t index_type;		/* enum bmgpu_index_type */
	uint32_t index_count;
	uint32_t instance_count;
	int32_t base_vertex;
};

struct bmgpu_dispatch {
	struct bmgpu_header hdr;
	uint32_t groups_x, groups_y, groups_z;
};

struct bmgpu_copy_texture {
	struct bmgpu_header hdr;
	uint32_t src, dst;		/* same format; single-sample */
	uint32_t src_x, src_y, dst_x, dst_y, width, height;
};

/* The cursor plane, composited by the host over scanout 0. */
struct bmgpu_set_cursor_image {		/* followed by 64 * 64 B,G,R,A texels */
	struct bmgpu_header hdr;
	uint32_t hot_x, hot_y;
};

struct bmgpu_set_cursor {
	struct bmgpu_header hdr;
	int32_t x, y;
	uint32_t visible;
};

/*
 * The status page: struct bmgpu_status at blob_offset (8-byte aligned) of a
 * blob resource attached to the context, size bytes long (room for the
 * header and at least one record). From this command on, the host keeps it
 * up to date; records are a ring the guest reads from its own position.
 */
struct bmgpu_set_status {
	struct bmgpu_header hdr;
	uint32_t blob_resource;
	uint32_t blob_offset;
	uint32_t size;
};

/* ---- error records ------------------------------------------------------ */

enum bmgpu_reason {
	BMGPU_ERR_NONE = 0,
	BMGPU_ERR_TRUNCATED = 1,	/* the command runs past the buffer, or words < its fields */
	BMGPU_ERR_METHOD = 2,		/* unknown method */
	BMGPU_ERR_HANDLE = 3,		/* 0, BMGPU_DRAWABLE where not allowed, or already in use */
	BMGPU_ERR_NO_OBJECT = 4,	/* names no live object (never created, or destroyed) */
	BMGPU_ERR_WRONG_KIND = 5,	/* names an object of another kind */
	BMGPU_ERR_ENUM = 6,		/* a value outside its enum */
	BMGPU_ERR_LIMIT = 7,		/* past a capset limit */
	BMGPU_ERR_BOUNDS = 8,		/* a range outside its object */
	BMGPU_ERR_STATE = 9,		/* not allowed here (outside or inside a pass) */
	BMGPU_ERR_SHADER = 10,		/* SPIR-V that does not validate, or GLSL that does not compile */
	BMGPU_ERR_MISMATCH = 11,	/* objects that do not fit together (formats, samples, stages) */
	BMGPU_ERR_HOST = 12,		/* the host could not carry it out (out of memory, lost device) */
	BMGPU_ERR_LOST = 13,		/* the context was lost with the renderer: make a new one */
	BMGPU_ERR_COUNT
};

struct bmgpu_error {
	uint32_t submit;		/* which SUBMIT_3D of the context, counted from 1 */
	uint32_t offset;		/* byte offset of the command in that buffer */
	uint16_t method;
	uint16_t reason;		/* enum bmgpu_reason */
	uint32_t detail;		/* the offending field's byte offset in the command */
};

/* bmgpu_status.flags */
#define BMGPU_STATUS_LOST	1u	/* the renderer is gone: nothing more is drawn */

/* What BMGPU_SET_STATUS points at; the host writes it, the guest reads it. */
struct bmgpu_status {
	uint32_t magic;			/* BMGPU_MAGIC once the host has taken the page */
	uint32_t capacity;		/* records that fit after this header */
	uint32_t errors;		/* records written so far; record n is at [n % capacity] */
	uint32_t submits;		/* SUBMIT_3D buffers checked */
	uint32_t frames;		/* BMGPU_PRESENTs that passed the checks */
	uint32_t completed;		/* SUBMIT_3D buffers the renderer has carried out */
	uint32_t flags;			/* BMGPU_STATUS_* */
	uint32_t reserved;
	struct bmgpu_error records[];
};

#endif
