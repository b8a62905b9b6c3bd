#version 450
// Fragment stage = set 1: bytes/buffer slot 0 at binding 0, texture slot 0
// at binding 16, sampler slot 0 at binding 32.
layout(location = 0) in vec4 v_colour;
layout(location = 1) in vec2 v_uv;
layout(location = 0) out vec4 out_colour;
layout(set = 1, binding = 0) uniform Tint { vec4 tint; };
layout(set = 1, binding = 16) uniform texture2D tex;
layout(set = 1, binding = 32) uniform sampler smp;

void main()
{
	out_colour = texture(sampler2D(tex, smp), v_uv) * tint;
}
