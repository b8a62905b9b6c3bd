/* SPDX-License-Identifier: MIT */
/*
 * The layering rules, checked on the sources themselves (docs/ARCHITECTURE.md):
 * each folder of src/ includes only the folders below it, so no arrow points
 * up and no two folders form a circle; and nothing outside the host layer
 * and the KVM backend includes a Linux-only header, so the tree builds on
 * macOS with the portable host layer.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* Who may include whom: a folder, then the folders its files may include. */
static const struct layer {
	const char *dir;
	const char *may_include[12];
} layers[] = {
	{ "vmm",    { "vmm", "api", "arch", "hw", "virtio", "gpu", "accel", "core", "host", "bmvm" } },
	{ "api",    { "api", "core", "host", "bmvm" } },
	{ "arch",   { "arch", "hw", "virtio", "gpu", "accel", "core", "host", "bmvm" } },
	{ "hw",     { "hw", "core", "host", "bmvm" } },
	{ "virtio", { "virtio", "gpu", "core", "host", "bmvm" } },
	{ "gpu",    { "gpu", "core", "host", "bmvm" } },
	{ "accel",  { "accel", "core", "host" } },
	{ "core",   { "core", "host" } },
	{ "host",   { "host" } },
	{ "render", { "render", "gpu", "core", "host", "bmvm" } },
};

/* Linux-only interfaces, and the files allowed to use them. */
static const char *const linux_only[] = {
	"<sys/epoll.h>", "<sys/eventfd.h>", "<sys/timerfd.h>", "<sys/signalfd.h>",
	"<sys/inotify.h>", "<sys/random.h>", "<linux/", "<liburing.h>", "memfd_create(",
	"SYS_openat2", "pipe2(", "accept4(", "SOCK_CLOEXEC", "SOCK_NONBLOCK", "MSG_NOSIGNAL",
	"clock_nanosleep(", "pthread_setname_np(",
};
static const char *const linux_files[] = {
	"accel/kvm.c",		/* the KVM backend */
	"virtio/net_tap.c",	/* tap interfaces are Linux's */
};

struct finding {
	char lines[16][320];
	unsigned n;
};

static void note(struct finding *f, const char *fmt, ...)
{
	va_list ap;

	if (f->n == 16)
		return;
	va_start(ap, fmt);
	vsnprintf(f->lines[f->n++], sizeof(f->lines[0]), fmt, ap);
	va_end(ap);
}

static const struct layer *layer_of(const char *rel)
{
	for (size_t i = 0; i < sizeof(layers) / sizeof(layers[0]); i++) {
		size_t n = strlen(layers[i].dir);

		if (!strncmp(rel, layers[i].dir, n) && rel[n] == '/')
			return &layers[i];
	}
	return NULL;
}

static int allowed(const struct layer *l, const char *target, size_t len)
{
	for (size_t i = 0; l->may_include[i]; i++)
		if (strlen(l->may_include[i]) == len && !strncmp(l->may_include[i], target, len))
			return 1;
	return 0;
}

static int host_or_exempt(const char *rel)
{
	if (!strncmp(rel, "host/", 5))
		return 1;
	for (size_t i = 0; i < sizeof(linux_files) / sizeof(linux_files[0]); i++)
		if (!strcmp(rel, linux_files[i]))
			return 1;
	return 0;
}

/* #include "dir/file.h": is dir below this file's folder? */
static void check_include(const struct layer *l, const char *rel, unsigned lineno,
			  const char *line, struct finding *f)
{
	const char *q = strstr(line, "#include \"");
	const char *slash;

	if (!q || !l)
		return;
	q += strlen("#include \"");
	slash = strchr(q, '/');
	if (slash && !allowed(l, q, (size_t)(slash - q)))
		note(f, "src/%s:%u: %s includes %.*s/ (above it or beside it)", rel, lineno,
		     l->dir, (int)(slash - q), q);
}

static void check_file(const char *root, const char *rel, struct finding *layer_f,
		       struct finding *linux_f, unsigned *files)
{
	char path[1024], line[1024];
	const struct layer *l = layer_of(rel);
	unsigned lineno = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	fp = fopen(path, "r");
	assert_non_null(fp);
	(*files)++;
	while (fgets(line, sizeof(line), fp)) {
		lineno++;
		check_include(l, rel, lineno, line, layer_f);
		if (host_or_exempt(rel))
			continue;
		for (size_t i = 0; i < sizeof(linux_only) / sizeof(linux_only[0]); i++) {
			const char *hit = strstr(line, linux_only[i]);

			/* Headers count on #include lines only; calls anywhere but comments. */
			if (hit && (linux_only[i][0] != '<' || strstr(line, "#include")) &&
			    !strstr(line, "/*") && !strstr(line, " * "))
				note(linux_f, "src/%s:%u: %s", rel, lineno, linux_only[i]);
		}
	}
	fclose(fp);
}

static void walk(const char *root, const char *sub, struct finding *layer_f,
		 struct finding *linux_f, unsigned *files)
{
	char path[1024], rel[512];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", root, sub);
	d = opendir(path);
	assert_non_null(d);
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);

		if (e->d_name[0] == '.')
			continue;
		snprintf(rel, sizeof(rel), "%s%s%s", sub, *sub ? "/" : "", e->d_name);
		if (e->d_type == DT_DIR)
			walk(root, rel, layer_f, linux_f, files);
		else if (n > 2 && e->d_name[n - 2] == '.' && strchr("ch", e->d_name[n - 1]))
			check_file(root, rel, layer_f, linux_f, files);
	}
	closedir(d);
}

static void report(const struct finding *f)
{
	for (unsigned i = 0; i < f->n; i++)
		print_message("%s\n", f->lines[i]);
}

static void test_layers_look_down(void **state)
{
	struct finding layer_f = { .n = 0 }, linux_f = { .n = 0 };
	unsigned files = 0;

	(void)state;
	walk(SRC_DIR, "", &layer_f, &linux_f, &files);
	assert_true(files > 100);	/* the walk really read the tree */
	report(&layer_f);
	assert_int_equal(layer_f.n, 0);
}

static void test_linux_only_in_host_layer(void **state)
{
	struct finding layer_f = { .n = 0 }, linux_f = { .n = 0 };
	unsigned files = 0;

	(void)state;
	walk(SRC_DIR, "", &layer_f, &linux_f, &files);
	report(&linux_f);
	assert_int_equal(linux_f.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layers_look_down),
		cmocka_unit_test(test_linux_only_in_host_layer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
