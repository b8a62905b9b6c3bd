#version 450
// guests/plasma: the reference vertex layout (position, texcoord, colour at
// locations 0, 1, 2; docs/PROTOCOL.md), passing texcoord and colour on.
layout(location = 0) in vec2 pos;
layout(location = 1) in vec2 uv;
layout(location = 2) in vec4 colour;
layout(location = 0) out vec4 v_colour;
layout(location = 1) out vec2 v_uv;

void main()
{
	gl_Position = vec4(pos, 0.0, 1.0);
	v_colour = colour;
	v_uv = uv;
}
