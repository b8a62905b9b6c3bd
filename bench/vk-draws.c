// SPDX-License-Identifier: MIT
/*
 * The GPU benchmark's native side (bench/run-gpu, bench/README.md):
 *
 *   bench-vk-draws [--frames N]            (a) the scene drawn by hand-written
 *                                              Vulkan, no bmvm code at all
 *   bench-vk-draws --trace FILE [--frames N]   the same scene as a bmvm GPU
 *                                              trace, for (b) bmvm-replay
 *
 * The scene is guests/draws_scene.c's: 10,000 draws of one triangle each
 * into a 1280 x 800 BGRA8 image, with the same SPIR-V shaders and a zeroed
 * vertex buffer of the reference layout. Like bmvm's renderer at each
 * PRESENT, every frame is read back to host memory and copied into a
 * picture, so both sides do the same work. The rate counts frames 2 on.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vulkan/vulkan.h>

#include "draws_scene.h"
#include "gpu/link.h"
#include "gpu/wire.h"

#define W	1280
#define H	800

_Noreturn static void fail(const char *what)
{
	fprintf(stderr, "bench-vk-draws: %s\n", what);
	exit(2);
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- (b): the scene as a trace ------------------------------------------------ */

static void trace_put(int fd, const uint8_t *msg, size_t len)
{
	uint8_t ts[GPU_TRACE_REC_SIZE] = { 0 };	/* no timing: replayed flat out */

	if (!len || wire_write(fd, ts, sizeof(ts)) || wire_write(fd, msg, len))
		fail("cannot write the trace");
}

static void trace_submit(int fd, uint32_t no, const struct cmdbuf *cb)
{
	static uint8_t msg[WIRE_HDR_SIZE + 8 + (1u << 20)];

	trace_put(fd, msg, wire_put_submit(msg, sizeof(msg), 1, no, cb->buf, cb->size));
}

static void write_trace(const char *path, unsigned frames)
{
	static uint8_t buf[1u << 20];
	struct cmdbuf cb = { buf, sizeof(buf), 0, 0 };
	uint8_t hdr[GPU_TRACE_HDR_SIZE], msg[64];
	uint32_t f[2] = { GPU_TRACE_MAGIC, GPU_TRACE_VERSION };
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		fail("cannot create the trace");
	memcpy(hdr, f, sizeof(hdr));	/* little-endian host */
	if (wire_write(fd, hdr, sizeof(hdr)))
		fail("cannot write the trace");
	trace_put(fd, msg, wire_put_hello(msg, sizeof(msg), WIRE_SHOW_HEADLESS));
	trace_put(fd, msg, wire_put_ctx_create(msg, sizeof(msg), 1, W, H));
	draws_setup(&cb);
	draws_frame(&cb);
	trace_submit(fd, 1, &cb);
	for (unsigned i = 2; i <= frames; i++) {
		cb.size = 0;
		draws_frame(&cb);
		if (cb.overflow)
			fail("a frame does not fit a submit");
		trace_submit(fd, i, &cb);
	}
	close(fd);
	printf("bench-vk-draws: %u frames of %u draws written to %s\n", frames, DRAWS_PER_FRAME,
	       path);
}

/* ---- (a): the scene in hand-written Vulkan ---------------------------------- */

struct vk {
	VkInstance inst;
	VkPhysicalDevice phys;
	VkDevice dev;
	VkQueue queue;
	uint32_t family;
	VkPhysicalDeviceMemoryProperties mem;
	VkImage image;
	VkImageView view;
	VkBuffer vertices, readback;
	VkDeviceMemory image_mem, vertices_mem, readback_mem;
	void *readback_map;
	VkPipelineLayout layout;
	VkPipeline pipeline;
	VkCommandPool pool;
	VkCommandBuffer cmd;
	VkFence fence;
};

static uint32_t memory_type(struct vk *v, uint32_t bits, VkMemoryPropertyFlags want)
{
	for (uint32_t i = 0; i < v->mem.memoryTypeCount; i++)
		if (bits & (1u << i) && (v->mem.memoryTypes[i].propertyFlags & want) == want)
			return i;
	fail("no suitable memory type");
}

static VkDeviceMemory bind_memory(struct vk *v, VkMemoryRequirements req,
				  VkMemoryPropertyFlags want)
{
	VkMemoryAllocateInfo ai = { .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
				    .allocationSize = req.size,
				    .memoryTypeIndex = memory_type(v, req.memoryTypeBits, want) };
	VkDeviceMemory m;

	if (vkAllocateMemory(v->dev, &ai, NULL, &m))
		fail("vkAllocateMemory");
	return m;
}

static VkBuffer make_buffer(struct vk *v, VkDeviceSize size, VkBufferUsageFlags usage,
			    VkDeviceMemory *mem)
{
	VkBufferCreateInfo bi = { .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = size,
				  .usage = usage };
	VkMemoryRequirements req;
	VkBuffer b;

	if (vkCreateBuffer(v->dev, &bi, NULL, &b))
		fail("vkCreateBuffer");
	vkGetBufferMemoryRequirements(v->dev, b, &req);
	*mem = bind_memory(v, req, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
				   VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
	vkBindBufferMemory(v->dev, b, *mem, 0);
	return b;
}

static void make_device(struct vk *v)
{
	VkApplicationInfo app = { .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
				  .apiVersion = VK_API_VERSION_1_3 };
	VkInstanceCreateInfo ici = { .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
				     .pApplicationInfo = &app };
	VkPhysicalDeviceVulkan13Features f13 = {
		.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES,
		.dynamicRendering = VK_TRUE };
	float prio = 1;
	VkDeviceQueueCreateInfo qci = { .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
					.queueCount = 1, .pQueuePriorities = &prio };
	VkDeviceCreateInfo dci = { .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, .pNext = &f13,
				   .queueCreateInfoCount = 1, .pQueueCreateInfos = &qci };
	uint32_t n = 1, nq = 0;
	VkQueueFamilyProperties qf[16];

	if (vkCreateInstance(&ici, NULL, &v->inst))
		fail("no Vulkan 1.3 instance");
	if (vkEnumeratePhysicalDevices(v->inst, &n, &v->phys) < 0 || !n)
		fail("no Vulkan device");
	vkGetPhysicalDeviceMemoryProperties(v->phys, &v->mem);
	nq = 16;
	vkGetPhysicalDeviceQueueFamilyProperties(v->phys, &nq, qf);
	while (v->family < nq && !(qf[v->family].queueFlags & VK_QUEUE_GRAPHICS_BIT))
		v->family++;
	if (v->family == nq)
		fail("no graphics queue");
	qci.queueFamilyIndex = v->family;
	if (vkCreateDevice(v->phys, &dci, NULL, &v->dev))
		fail("vkCreateDevice (dynamic rendering)");
	vkGetDeviceQueue(v->dev, v->family, 0, &v->queue);
}

static void make_target(struct vk *v)
{
	VkImageCreateInfo ii = {
		.sType = VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO, .imageType = VK_IMAGE_TYPE_2D,
		.format = VK_FORMAT_B8G8R8A8_UNORM, .extent = { W, H, 1 }, .mipLevels = 1,
		.arrayLayers = 1, .samples = VK_SAMPLE_COUNT_1_BIT,
		.tiling = VK_IMAGE_TILING_OPTIMAL,
		.usage = VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT,
	};
	VkImageViewCreateInfo vi = {
		.sType = VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO, .viewType = VK_IMAGE_VIEW_TYPE_2D,
		.format = VK_FORMAT_B8G8R8A8_UNORM,
		.subresourceRange = { VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1 },
	};
	VkMemoryRequirements req;

	if (vkCreateImage(v->dev, &ii, NULL, &v->image))
		fail("vkCreateImage");
	vkGetImageMemoryRequirements(v->dev, v->image, &req);
	v->image_mem = bind_memory(v, req, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
	vkBindImageMemory(v->dev, v->image, v->image_mem, 0);
	vi.image = v->image;
	if (vkCreateImageView(v->dev, &vi, NULL, &v->view))
		fail("vkCreateImageView");
	v->readback = make_buffer(v, (VkDeviceSize)W * H * 4, VK_BUFFER_USAGE_TRANSFER_DST_BIT,
				  &v->readback_mem);
	vkMapMemory(v->dev, v->readback_mem, 0, VK_WHOLE_SIZE, 0, &v->readback_map);
	v->vertices = make_buffer(v, DRAWS_BUFFER_BYTES, VK_BUFFER_USAGE_VERTEX_BUFFER_BIT,
				  &v->vertices_mem);
	{
		void *p;

		vkMapMemory(v->dev, v->vertices_mem, 0, VK_WHOLE_SIZE, 0, &p);
		memset(p, 0, DRAWS_BUFFER_BYTES);
		vkUnmapMemory(v->dev, v->vertices_mem);
	}
}

static VkShaderModule shader(struct vk *v, int fragment)
{
	uint32_t bytes;
	const uint32_t *code = draws_spirv(fragment, &bytes);
	VkShaderModuleCreateInfo sci = { .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
					 .codeSize = bytes, .pCode = code };
	VkShaderModule m;

	if (vkCreateShaderModule(v->dev, &sci, NULL, &m))
		fail("vkCreateShaderModule");
	return m;
}

static void make_pipeline(struct vk *v)
{
	VkShaderModule vs = shader(v, 0);
	VkShaderModule fs = shader(v, 1);
	VkPipelineShaderStageCreateInfo stages[2] = {
		{ .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
		  .stage = VK_SHADER_STAGE_VERTEX_BIT, .module = vs, .pName = "main" },
		{ .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
		  .stage = VK_SHADER_STAGE_FRAGMENT_BIT, .module = fs, .pName = "main" },
	};
	VkVertexInputBindingDescription bind = { 0, DRAWS_VERTEX_BYTES,
						 VK_VERTEX_INPUT_RATE_VERTEX };
	VkVertexInputAttributeDescription attr[3] = {
		{ 0, 0, VK_FORMAT_R32G32_SFLOAT, 0 },
		{ 1, 0, VK_FORMAT_R32G32_SFLOAT, 8 },
		{ 2, 0, VK_FORMAT_R32G32B32A32_SFLOAT, 16 },
	};
	VkPipelineVertexInputStateCreateInfo vin = {
		.sType = VK_STRUCTURE_TYPE_PIPELINE_VERTEX_INPUT_STATE_CREATE_INFO,
		.vertexBindingDescriptionCount = 1, .pVertexBindingDescriptions = &bind,
		.vertexAttributeDescriptionCount = 3, .pVertexAttributeDescriptions = attr,
	};
	VkPipelineInputAssemblyStateCreateInfo ia = {
		.sType = VK_STRUCTURE_TYPE_PIPELINE_INPUT_ASSEMBLY_STATE_CREATE_INFO,
		.topology = VK_PRIMITIVE_TOPOLOGY_TRIANGLE_LIST };
	VkPipelineViewportStateCreateInfo vp = {
		.sType = VK_STRUCTURE_TYPE_PIPELINE_VIEWPORT_STATE_CREATE_INFO,
		.viewportCount = 1, .scissorCount = 1 };
	VkPipelineRasterizationStateCreateInfo rs = {
		.sType = VK_STRUCTURE_TYPE_PIPELINE_RASTERIZATION_STATE_CREATE_INFO,
		.polygonMode = VK_POLYGON_MODE_FILL, .cullMode = VK_CULL_MODE_NONE,
		.lineWidth = 1 };
	VkPipelineMultisampleStateCreateInfo ms = {
		.sType = VK_STRUCTURE_TYPE_PIPELINE_MULTISAMPLE_STATE_CREATE_INFO,
		.rasterizationSamples = VK_SAMPLE_COUNT_1_BIT };
	VkPipelineColorBlendAttachmentState cba = { .colorWriteMask = 0xf };
	VkPipelineColorBlendStateCreateInfo cb = {
		.sType = VK_STRUCTURE_TYPE_PIPELINE_COLOR_BLEND_STATE_CREATE_INFO,
		.attachmentCount = 1, .pAttachments = &cba };
	VkDynamicState dyn[2] = { VK_DYNAMIC_STATE_VIEWPORT, VK_DYNAMIC_STATE_SCISSOR };
	VkPipelineDynamicStateCreateInfo ds = {
		.sType = VK_STRUCTURE_TYPE_PIPELINE_DYNAMIC_STATE_CREATE_INFO,
		.dynamicStateCount = 2, .pDynamicStates = dyn };
	VkFormat fmt = VK_FORMAT_B8G8R8A8_UNORM;
	VkPipelineRenderingCreateInfo ri = {
		.sType = VK_STRUCTURE_TYPE_PIPELINE_RENDERING_CREATE_INFO,
		.colorAttachmentCount = 1, .pColorAttachmentFormats = &fmt };
	VkPipelineLayoutCreateInfo li = { .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO };
	VkGraphicsPipelineCreateInfo gi = {
		.sType = VK_STRUCTURE_TYPE_GRAPHICS_PIPELINE_CREATE_INFO, .pNext = &ri,
		.stageCount = 2, .pStages = stages, .pVertexInputState = &vin,
		.pInputAssemblyState = &ia, .pViewportState = &vp, .pRasterizationState = &rs,
		.pMultisampleState = &ms, .pColorBlendState = &cb, .pDynamicState = &ds,
	};

	if (vkCreatePipelineLayout(v->dev, &li, NULL, &v->layout))
		fail("vkCreatePipelineLayout");
	gi.layout = v->layout;
	if (vkCreateGraphicsPipelines(v->dev, VK_NULL_HANDLE, 1, &gi, NULL, &v->pipeline))
		fail("vkCreateGraphicsPipelines");
	vkDestroyShaderModule(v->dev, vs, NULL);
	vkDestroyShaderModule(v->dev, fs, NULL);
}

static void barrier(VkCommandBuffer c, VkImage image, VkImageLayout from, VkImageLayout to,
		    VkPipelineStageFlags2 src, VkAccessFlags2 src_access,
		    VkPipelineStageFlags2 dst, VkAccessFlags2 dst_access)
{
	VkImageMemoryBarrier2 b = {
		.sType = VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER_2, .srcStageMask = src,
		.srcAccessMask = src_access, .dstStageMask = dst, .dstAccessMask = dst_access,
		.oldLayout = from, .newLayout = to, .image = image,
		.srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
		.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
		.subresourceRange = { VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1 },
	};
	VkDependencyInfo di = { .sType = VK_STRUCTURE_TYPE_DEPENDENCY_INFO,
				.imageMemoryBarrierCount = 1, .pImageMemoryBarriers = &b };

	vkCmdPipelineBarrier2(c, &di);
}

/* One frame: record, draw, read back, copy into @picture; wait for all of it. */
static void frame(struct vk *v, uint8_t *picture)
{
	VkCommandBufferBeginInfo bi = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
					.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT };
	VkRenderingAttachmentInfo ca = {
		.sType = VK_STRUCTURE_TYPE_RENDERING_ATTACHMENT_INFO, .imageView = v->view,
		.imageLayout = VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL,
		.loadOp = VK_ATTACHMENT_LOAD_OP_CLEAR, .storeOp = VK_ATTACHMENT_STORE_OP_STORE,
	};
	VkRenderingInfo rinfo = { .sType = VK_STRUCTURE_TYPE_RENDERING_INFO,
				  .renderArea = { { 0, 0 }, { W, H } }, .layerCount = 1,
				  .colorAttachmentCount = 1, .pColorAttachments = &ca };
	VkViewport vp = { 0, 0, W, H, 0, 1 };
	VkRect2D sc = { { 0, 0 }, { W, H } };
	VkDeviceSize off = 0;
	VkBufferImageCopy copy = { .imageSubresource = { VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1 },
				   .imageExtent = { W, H, 1 } };
	VkSubmitInfo si = { .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1,
			    .pCommandBuffers = &v->cmd };
	VkCommandBuffer c = v->cmd;

	vkResetCommandBuffer(c, 0);
	vkBeginCommandBuffer(c, &bi);
	barrier(c, v->image, VK_IMAGE_LAYOUT_UNDEFINED, VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL,
		VK_PIPELINE_STAGE_2_TOP_OF_PIPE_BIT, 0,
		VK_PIPELINE_STAGE_2_COLOR_ATTACHMENT_OUTPUT_BIT,
		VK_ACCESS_2_COLOR_ATTACHMENT_WRITE_BIT);
	vkCmdBeginRendering(c, &rinfo);
	vkCmdBindPipeline(c, VK_PIPELINE_BIND_POINT_GRAPHICS, v->pipeline);
	vkCmdSetViewport(c, 0, 1, &vp);
	vkCmdSetScissor(c, 0, 1, &sc);
	vkCmdBindVertexBuffers(c, 0, 1, &v->vertices, &off);
	for (uint32_t i = 0; i < DRAWS_PER_FRAME; i++)
		vkCmdDraw(c, 3, 1, 3 * i, 0);
	vkCmdEndRendering(c);
	barrier(c, v->image, VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL,
		VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL,
		VK_PIPELINE_STAGE_2_COLOR_ATTACHMENT_OUTPUT_BIT,
		VK_ACCESS_2_COLOR_ATTACHMENT_WRITE_BIT, VK_PIPELINE_STAGE_2_COPY_BIT,
		VK_ACCESS_2_TRANSFER_READ_BIT);
	vkCmdCopyImageToBuffer(c, v->image, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, v->readback, 1,
			       &copy);
	vkEndCommandBuffer(c);
	vkResetFences(v->dev, 1, &v->fence);
	if (vkQueueSubmit(v->queue, 1, &si, v->fence) ||
	    vkWaitForFences(v->dev, 1, &v->fence, VK_TRUE, UINT64_MAX))
		fail("the frame did not complete");
	memcpy(picture, v->readback_map, (size_t)W * H * 4);
}

static void run_native(unsigned frames)
{
	struct vk v = { 0 };
	VkCommandPoolCreateInfo pci = { .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
					.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT };
	VkCommandBufferAllocateInfo cai = {
		.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
		.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY, .commandBufferCount = 1 };
	VkFenceCreateInfo fci = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
	VkPhysicalDeviceProperties props;
	uint8_t *picture = malloc((size_t)W * H * 4);
	double t0 = 0;

	if (!picture)
		fail("out of memory");
	make_device(&v);
	make_target(&v);
	make_pipeline(&v);
	pci.queueFamilyIndex = v.family;
	vkCreateCommandPool(v.dev, &pci, NULL, &v.pool);
	cai.commandPool = v.pool;
	vkAllocateCommandBuffers(v.dev, &cai, &v.cmd);
	vkCreateFence(v.dev, &fci, NULL, &v.fence);
	vkGetPhysicalDeviceProperties(v.phys, &props);
	for (unsigned i = 1; i <= frames; i++) {
		frame(&v, picture);
		if (i == 1)
			t0 = now_s();
	}
	if (frames > 1)
		printf("bench-vk-draws: %s: %u frames of %u draws after the first in %.3f s: "
		       "%.2f frames/s\n", props.deviceName, frames - 1, DRAWS_PER_FRAME,
		       now_s() - t0, (frames - 1) / (now_s() - t0));
	vkDeviceWaitIdle(v.dev);
	vkDestroyFence(v.dev, v.fence, NULL);
	vkDestroyCommandPool(v.dev, v.pool, NULL);
	vkDestroyPipeline(v.dev, v.pipeline, NULL);
	vkDestroyPipelineLayout(v.dev, v.layout, NULL);
	vkDestroyImageView(v.dev, v.view, NULL);
	vkDestroyImage(v.dev, v.image, NULL);
	vkDestroyBuffer(v.dev, v.vertices, NULL);
	vkDestroyBuffer(v.dev, v.readback, NULL);
	vkFreeMemory(v.dev, v.image_mem, NULL);
	vkFreeMemory(v.dev, v.vertices_mem, NULL);
	vkFreeMemory(v.dev, v.readback_mem, NULL);
	vkDestroyDevice(v.dev, NULL);
	vkDestroyInstance(v.inst, NULL);
	free(picture);
}

int main(int argc, char **argv)
{
	const char *trace = NULL;
	unsigned frames = 30;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--frames") && i + 1 < argc) {
			frames = (unsigned)strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--trace") && i + 1 < argc) {
			trace = argv[++i];
		} else {
			fprintf(stderr, "usage: bench-vk-draws [--frames N] [--trace FILE]\n");
			return 2;
		}
	}
	if (frames < 2 || frames > 100000)
		fail("--frames: 2 to 100000");
	if (trace)
		write_trace(trace, frames);
	else
		run_native(frames);
	return 0;
}
