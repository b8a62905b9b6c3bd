#version 450
// Compute stage = set 2: a storage image at texture slot 0 (binding 16)
// and a storage buffer at slot 1 (binding 1). Fills the 64x64 image with a
// gradient, and the buffer with one triangle in the reference vertex layout
// (float2 position, float2 texcoord, float4 colour: 8 floats a vertex).
layout(local_size_x = 8, local_size_y = 8) in;
layout(set = 2, binding = 16, rgba8) uniform writeonly image2D img;
layout(set = 2, binding = 1) buffer Vertices { float v[]; };

void vertex(int i, vec2 pos)
{
	v[i * 8 + 0] = pos.x;
	v[i * 8 + 1] = pos.y;
	v[i * 8 + 2] = 0.0;
	v[i * 8 + 3] = 0.0;
	v[i * 8 + 4] = 1.0;	/* yellow */
	v[i * 8 + 5] = 1.0;
	v[i * 8 + 6] = 0.0;
	v[i * 8 + 7] = 1.0;
}

void main()
{
	ivec2 p = ivec2(gl_GlobalInvocationID.xy);

	imageStore(img, p, vec4(float(p.x) / 63.0, float(p.y) / 63.0, 0.5, 1.0));
	if (p == ivec2(0)) {
		vertex(0, vec2(-0.25, -0.25));
		vertex(1, vec2(0.25, -0.25));
		vertex(2, vec2(0.0, 0.25));
	}
}
