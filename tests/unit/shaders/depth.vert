#version 450
// A custom vertex layout: float3 position at location 0, float4 colour at 2.
layout(location = 0) in vec3 pos;
layout(location = 2) in vec4 colour;
layout(location = 0) out vec4 v_colour;

void main()
{
	gl_Position = vec4(pos, 1.0);
	v_colour = colour;
}
