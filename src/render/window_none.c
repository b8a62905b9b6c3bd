// SPDX-License-Identifier: MIT
/* bmvm-render built without SDL2: no window, said once, then headless. */

#include <errno.h>

#include "render/window.h"

int window_run(struct session *s)
{
	session_log(s, "this bmvm-render was built without SDL2, so it has no window "
		    "(install libsdl2-dev and rebuild); rendering headless");
	return -ENODEV;
}
