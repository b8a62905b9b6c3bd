#version 450
// guests/triangle: the reference vertex layout (position, texcoord, colour
// at locations 0, 1, 2; docs/PROTOCOL.md), passing the colour on.
layout(location = 0) in vec2 pos;
layout(location = 1) in vec2 uv;
layout(location = 2) in vec4 colour;
layout(location = 0) out vec4 v_colour;

void main()
{
	gl_Position = vec4(pos, 0.0, 1.0);
	v_colour = colour;
}
