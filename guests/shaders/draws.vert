#version 450
// The GPU benchmark's scene (guests/draws_scene.c, bench/vk-draws.c): draw
// i is triangle i of a 100 x 100 grid, placed from gl_VertexIndex alone.
// The reference layout's inputs are declared (and fetched, from a zeroed
// buffer) as any guest's would be; they add nothing.
layout(location = 0) in vec2 pos;
layout(location = 1) in vec2 uv;
layout(location = 2) in vec4 colour;
layout(location = 0) out vec4 v_colour;

void main()
{
	int tri = gl_VertexIndex / 3, corner = gl_VertexIndex % 3;
	vec2 cell = vec2(tri % 100, tri / 100) / 50.0 - 1.0;
	vec2 off = corner == 0 ? vec2(0.002, 0.002) :
		   corner == 1 ? vec2(0.018, 0.002) : vec2(0.010, 0.018);

	gl_Position = vec4(cell + off + pos + uv, 0.0, 1.0);
	v_colour = vec4(cell * 0.5 + 0.5, 0.5, 1.0) + colour;
}
