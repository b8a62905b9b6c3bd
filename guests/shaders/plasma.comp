#version 450
// guests/plasma: compute stage = descriptor set 2. Bytes slot 0 (binding 0)
// carry the frame number; texture slot 0 (binding 16) is the 256x256
// storage texture this fills with a plasma that moves with the frame.
layout(local_size_x = 8, local_size_y = 8) in;
layout(set = 2, binding = 0) uniform Frame { uint frame; };
layout(set = 2, binding = 16, rgba8) uniform writeonly image2D plasma;

void main()
{
	vec2 p = vec2(gl_GlobalInvocationID.xy) / 256.0;
	float t = float(frame) * 0.05;
	float v = sin(p.x * 10.0 + t) + sin((p.y * 10.0 + t) * 0.5) +
		  sin((p.x + p.y) * 10.0 + t) + sin(length(p - 0.5) * 20.0 - t);
	vec3 c = 0.5 + 0.5 * cos(vec3(0.0, 2.094, 4.188) + v * 1.5);

	imageStore(plasma, ivec2(gl_GlobalInvocationID.xy), vec4(c, 1.0));
}
