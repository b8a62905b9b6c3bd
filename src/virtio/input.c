/* SPDX-License-Identifier: MIT */
/*
 * virtio-input (virtio 1.2, 5.8): a keyboard and an absolute pointer
 * (tablet), each its own device. Events come from the host through
 * virtio_input_inject() (the window, the control API, test hooks) and go
 * to the guest in the 8-byte buffers its driver posts on the event queue.
 *
 * The device describes itself evdev-style through its config space: the
 * driver writes select/subsel and reads back a size and a string, bitmap,
 * absinfo or devids. IDs reported (ID_DEVIDS): bustype BUS_VIRTUAL (6),
 * vendor 0x424d ("BM"), product 1 (keyboard) or 2 (tablet), version 1.
 *
 * Events wait in a bounded FIFO until the guest has buffers for them, so a
 * burst larger than the guest's ring (Linux posts 64) still arrives whole
 * and in order; a full FIFO refuses a whole batch (-EAGAIN), never part.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/devices.h"
#include "virtio/virtio.h"

#define INPUT_EVENTQ		0
#define INPUT_STATUSQ		1

/* Config selectors (5.8.4). */
#define CFG_UNSET		0x00
#define CFG_ID_NAME		0x01
#define CFG_ID_SERIAL		0x02
#define CFG_ID_DEVIDS		0x03
#define CFG_PROP_BITS		0x10
#define CFG_EV_BITS		0x11
#define CFG_ABS_INFO		0x12

/* Config layout: u8 select, u8 subsel, u8 size, u8 reserved[5], union u[128]. */
#define CFG_SELECT		0
#define CFG_SUBSEL		1
#define CFG_SIZE		2
#define CFG_UNION		8
#define CFG_UNION_SIZE		128
#define CONFIG_SIZE		(CFG_UNION + CFG_UNION_SIZE)

/* evdev codes (linux/input-event-codes.h), defined here to build anywhere. */
#define EV_KEY			0x01
#define EV_REL			0x02
#define EV_ABS			0x03
#define EV_LED			0x11
#define EV_REP			0x14
#define KEY_ESC			1
#define KEY_MICMUTE		248
#define BTN_LEFT		0x110
#define BTN_RIGHT		0x111
#define BTN_MIDDLE		0x112
#define REL_WHEEL		0x08
#define ABS_X			0x00
#define ABS_Y			0x01
#define LED_NUML		0x00
#define LED_CAPSL		0x01
#define LED_SCROLLL		0x02
#define REP_DELAY		0x00
#define REP_PERIOD		0x01

#define BUS_VIRTUAL		0x06
#define INPUT_VENDOR		0x424d	/* "BM" */
#define INPUT_VERSION		1

/* Events held for the guest: several full key sequences' worth. */
#define INPUT_FIFO		256
/* Chains one flush may take: bounds work a hostile driver can feed us. */
#define INPUT_FLUSH_MAX		(2 * 256)

#define INPUT_MAX_EV_TYPES	4

struct input_ev_bits {
	uint16_t type;
	uint8_t bits[CFG_UNION_SIZE];
};

struct virtio_input {
	struct virtio_dev vdev;

	/* What the device is: fixed at creation. */
	const char *name;
	char serial[32];
	uint16_t product;
	struct input_ev_bits ev[INPUT_MAX_EV_TYPES];
	unsigned nr_ev;
	bool has_abs;			/* ABS_X/ABS_Y 0..VIRTIO_TABLET_ABS_MAX */

	/* Config space as the driver selected it, under cfg_lock (vCPU threads). */
	pthread_mutex_t cfg_lock;
	uint8_t config[CONFIG_SIZE];

	/* Events not yet in a guest buffer, under the work lock. */
	struct virtio_input_event fifo[INPUT_FIFO];
	unsigned head, count;
	struct virtq_chain chain;
};

static void bit_set(uint8_t *bits, unsigned bit)
{
	bits[bit / 8] |= (uint8_t)(1u << (bit % 8));
}

/* Bytes of a bitmap that carry bits: up to the last non-zero byte. */
static uint8_t bits_size(const uint8_t *bits)
{
	unsigned n = CFG_UNION_SIZE;

	while (n && !bits[n - 1])
		n--;
	return (uint8_t)n;
}

/* ---- config space ----------------------------------------------------- */

static uint8_t render_string(uint8_t *u, const char *s)
{
	size_t n = strlen(s);

	if (n > CFG_UNION_SIZE)
		n = CFG_UNION_SIZE;
	memcpy(u, s, n);
	return (uint8_t)n;
}

static uint8_t render_devids(const struct virtio_input *in, uint8_t *u)
{
	uint16_t ids[4] = { BUS_VIRTUAL, INPUT_VENDOR, in->product, INPUT_VERSION };

	memcpy(u, ids, sizeof(ids));	/* little-endian host */
	return sizeof(ids);
}

static uint8_t render_ev_bits(const struct virtio_input *in, uint8_t subsel, uint8_t *u)
{
	for (unsigned i = 0; i < in->nr_ev; i++) {
		if (in->ev[i].type != subsel)
			continue;
		memcpy(u, in->ev[i].bits, CFG_UNION_SIZE);
		return bits_size(u);
	}
	return 0;
}

static uint8_t render_abs_info(const struct virtio_input *in, uint8_t subsel, uint8_t *u)
{
	/* le32 min, max, fuzz, flat, res */
	uint32_t abs[5] = { 0, VIRTIO_TABLET_ABS_MAX, 0, 0, 0 };

	if (!in->has_abs || (subsel != ABS_X && subsel != ABS_Y))
		return 0;
	memcpy(u, abs, sizeof(abs));
	return sizeof(abs);
}

/* cfg_lock held: fill size and the union for the current select/subsel. */
static void config_render(struct virtio_input *in)
{
	uint8_t select = in->config[CFG_SELECT], subsel = in->config[CFG_SUBSEL];
	uint8_t *u = in->config + CFG_UNION;
	uint8_t size = 0;

	memset(u, 0, CFG_UNION_SIZE);
	switch (select) {
	case CFG_ID_NAME:
		size = subsel ? 0 : render_string(u, in->name);
		break;
	case CFG_ID_SERIAL:
		size = subsel ? 0 : render_string(u, in->serial);
		break;
	case CFG_ID_DEVIDS:
		size = subsel ? 0 : render_devids(in, u);
		break;
	case CFG_EV_BITS:
		size = render_ev_bits(in, subsel, u);
		break;
	case CFG_ABS_INFO:
		size = render_abs_info(in, subsel, u);
		break;
	case CFG_PROP_BITS:	/* no properties: not a touchscreen or touchpad */
	default:
		break;
	}
	in->config[CFG_SIZE] = size;
}

static void input_config_access(struct virtio_dev *vdev, uint32_t off, void *buf, unsigned len,
				bool is_write)
{
	struct virtio_input *in = (struct virtio_input *)vdev;
	const uint8_t *src = buf;
	bool changed = false;

	pthread_mutex_lock(&in->cfg_lock);
	if (!is_write) {
		memcpy(buf, in->config + off, len);
	} else {
		/* Only select and subsel are the driver's to write. */
		for (unsigned i = 0; i < len; i++) {
			if (off + i == CFG_SELECT || off + i == CFG_SUBSEL) {
				in->config[off + i] = src[i];
				changed = true;
			}
		}
		if (changed)
			config_render(in);
	}
	pthread_mutex_unlock(&in->cfg_lock);
}

/* ---- queues ----------------------------------------------------------- */

/* Work lock held: move FIFO events into the guest's buffers while both last. */
static void input_flush(struct virtio_input *in)
{
	struct virtio_dev *vdev = &in->vdev;
	struct virtq *vq = &vdev->vq[INPUT_EVENTQ];
	bool pushed = false;

	for (unsigned taken = 0; in->count && taken < INPUT_FLUSH_MAX; taken++) {
		int ret = virtq_pop(vq, &in->chain);
		size_t n;

		if (ret < 0)
			break;
		if (ret == 0) {
			if (virtq_rearm(vq))
				continue;
			break;
		}
		n = iov_copy_to(virtq_chain_in(&in->chain), in->chain.nr_in, 0,
				&in->fifo[in->head], sizeof(in->fifo[0]));
		if (n == sizeof(in->fifo[0])) {
			in->head = (in->head + 1) % INPUT_FIFO;
			in->count--;
		} else {
			n = 0;		/* too small for an event: returned empty */
		}
		virtq_push(vq, in->chain.head, (uint32_t)n);
		vdev->requests++;
		pushed = true;
	}
	if (pushed)
		virtio_notify_queue(vdev, INPUT_EVENTQ);
	if (vq->broken)
		virtio_fail(vdev, "the driver broke a virtqueue (bad descriptor chain)");
}

/* The status queue carries LED and sound state: consumed, not acted on. */
static void input_drain_status(struct virtio_dev *vdev)
{
	struct virtio_input *in = (struct virtio_input *)vdev;
	struct virtq *vq = &vdev->vq[INPUT_STATUSQ];

	do {
		while (virtq_pop(vq, &in->chain) > 0)
			virtq_push(vq, in->chain.head, 0);
	} while (virtq_rearm(vq));
	virtio_notify_queue(vdev, INPUT_STATUSQ);
}

static void input_queue_notify(struct virtio_dev *vdev, unsigned q)
{
	if (q == INPUT_EVENTQ)
		input_flush((struct virtio_input *)vdev);
	else if (q == INPUT_STATUSQ)
		input_drain_status(vdev);
}

static void input_reset(struct virtio_dev *vdev)
{
	struct virtio_input *in = (struct virtio_input *)vdev;

	/* Events meant for the old driver would arrive out of context. */
	in->head = in->count = 0;
	pthread_mutex_lock(&in->cfg_lock);
	memset(in->config, 0, sizeof(in->config));
	pthread_mutex_unlock(&in->cfg_lock);
}

static void input_destroy(struct virtio_dev *vdev)
{
	struct virtio_input *in = (struct virtio_input *)vdev;

	pthread_mutex_destroy(&in->cfg_lock);
	free(in);
}

static const struct virtio_ops input_ops = {
	.device_id = VIRTIO_ID_INPUT,
	.nr_queues = 2,
	.queue_max = 64,
	.config_size = CONFIG_SIZE,
	.config_access = input_config_access,
	.queue_notify = input_queue_notify,
	.reset = input_reset,
	.destroy = input_destroy,
};

/* ---- injection -------------------------------------------------------- */

struct inject_req {
	const struct virtio_input_event *ev;
	size_t n;
	int ret;
};

static void inject_locked(struct virtio_dev *vdev, void *arg)
{
	struct virtio_input *in = (struct virtio_input *)vdev;
	struct inject_req *r = arg;

	if (!virtio_running(vdev)) {
		r->ret = -ENOTCONN;
		return;
	}
	if (r->n > INPUT_FIFO - in->count) {
		r->ret = -EAGAIN;
		return;
	}
	for (size_t i = 0; i < r->n; i++)
		in->fifo[(in->head + in->count + i) % INPUT_FIFO] = r->ev[i];
	in->count += (unsigned)r->n;
	input_flush(in);
	r->ret = 0;
}

int virtio_input_inject(struct device *dev, const struct virtio_input_event *ev, size_t n)
{
	struct inject_req r = { ev, n, 0 };

	if (n > INPUT_FIFO)
		return -EINVAL;		/* never fits: not worth retrying */
	virtio_with_work_lock((struct virtio_dev *)dev, inject_locked, &r);
	return r.ret;
}

/* ---- creation --------------------------------------------------------- */

static struct input_ev_bits *ev_bits_add(struct virtio_input *in, uint16_t type)
{
	struct input_ev_bits *b = &in->ev[in->nr_ev++];

	b->type = type;
	return b;
}

static void keyboard_describe(struct virtio_input *in, unsigned index)
{
	struct input_ev_bits *b;

	in->name = "bmvm keyboard";
	in->product = 1;
	snprintf(in->serial, sizeof(in->serial), "bmvm-keyboard-%u", index);
	b = ev_bits_add(in, EV_KEY);
	for (unsigned k = KEY_ESC; k <= KEY_MICMUTE; k++)
		bit_set(b->bits, k);
	/* Autorepeat in the guest's input core, as for a USB keyboard. */
	b = ev_bits_add(in, EV_REP);
	bit_set(b->bits, REP_DELAY);
	bit_set(b->bits, REP_PERIOD);
	/* LED state comes back on the status queue (ignored). */
	b = ev_bits_add(in, EV_LED);
	bit_set(b->bits, LED_NUML);
	bit_set(b->bits, LED_CAPSL);
	bit_set(b->bits, LED_SCROLLL);
}

static void tablet_describe(struct virtio_input *in, unsigned index)
{
	struct input_ev_bits *b;

	in->name = "bmvm tablet";
	in->product = 2;
	snprintf(in->serial, sizeof(in->serial), "bmvm-tablet-%u", index);
	b = ev_bits_add(in, EV_KEY);
	bit_set(b->bits, BTN_LEFT);
	bit_set(b->bits, BTN_RIGHT);
	bit_set(b->bits, BTN_MIDDLE);
	b = ev_bits_add(in, EV_ABS);
	bit_set(b->bits, ABS_X);
	bit_set(b->bits, ABS_Y);
	in->has_abs = true;
	b = ev_bits_add(in, EV_REL);
	bit_set(b->bits, REL_WHEEL);
}

static int input_create(const struct device_slot *slot, const struct virtio_env *env,
			bool tablet, struct device **dev, struct errbuf *err)
{
	const char *tag = tablet ? "virtio-tablet" : "virtio-keyboard";
	struct virtio_input *in = calloc(1, sizeof(*in));
	int ret;

	if (!in)
		return err_set(err, ENOMEM, "%s: out of memory", tag);
	if (tablet)
		tablet_describe(in, env->index);
	else
		keyboard_describe(in, env->index);
	pthread_mutex_init(&in->cfg_lock, NULL);
	ret = virtio_dev_init(&in->vdev, slot, &input_ops, tag, err);
	if (ret) {
		pthread_mutex_destroy(&in->cfg_lock);
		free(in);
		return ret;
	}
	*dev = &in->vdev.dev;
	return 0;
}

int virtio_keyboard_create(const struct device_slot *slot, const struct virtio_env *env,
			   const char *arg, struct device **dev, struct errbuf *err)
{
	(void)arg;
	return input_create(slot, env, false, dev, err);
}

int virtio_tablet_create(const struct device_slot *slot, const struct virtio_env *env,
			 const char *arg, struct device **dev, struct errbuf *err)
{
	(void)arg;
	return input_create(slot, env, true, dev, err);
}
