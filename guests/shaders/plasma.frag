#version 450
// guests/plasma: fragment stage = descriptor set 1. The computed plasma at
// texture slot 0 (binding 16) through a linear sampler (slot 0, binding
// 32); the uploaded 8x8 tile at texture slot 1 (binding 17) through a
// nearest, repeating sampler (slot 1, binding 33), laid over it 4 x 4 times.
layout(location = 0) in vec4 v_colour;
layout(location = 1) in vec2 v_uv;
layout(location = 0) out vec4 out_colour;
layout(set = 1, binding = 16) uniform texture2D plasma;
layout(set = 1, binding = 17) uniform texture2D tile;
layout(set = 1, binding = 32) uniform sampler smooth_sampler;
layout(set = 1, binding = 33) uniform sampler pixel_sampler;

void main()
{
	vec4 p = texture(sampler2D(plasma, smooth_sampler), v_uv);
	vec4 t = texture(sampler2D(tile, pixel_sampler), v_uv * 4.0);

	out_colour = mix(p, t, t.a * 0.5) * v_colour;
}
