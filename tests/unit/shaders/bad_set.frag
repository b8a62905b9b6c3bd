#version 450
// A fragment shader reading set 0 (the vertex stage's): refused.
layout(location = 0) out vec4 out_colour;
layout(set = 0, binding = 0) uniform Tint { vec4 tint; };

void main()
{
	out_colour = tint;
}
