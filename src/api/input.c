/* SPDX-License-Identifier: MIT */
/*
 * Input for POST /vm/input and `bmvm ctl key/type/pointer`: key names and
 * combos, US-layout text, and the request's JSON, turned into
 * api_input_events. All pure functions of their arguments.
 */
#include "api/api.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Linux evdev codes (linux/input-event-codes.h): an ABI, the same on every host. */
#define KEY_LEFTSHIFT	42
#define KEY_MAX_CODE	0x2ff
#define BTN_LEFT	0x110
#define BTN_RIGHT	0x111
#define BTN_MIDDLE	0x112
#define BTN_SIDE	0x113
#define BTN_EXTRA	0x114
#define BTN_FORWARD	0x115
#define BTN_BACK	0x116

#define MOVE_MAX	65535	/* pixels: beyond any display */
#define WHEEL_MAX	100

struct key_name {
	const char *name;
	uint16_t code;
};

/* evdev's names, lower case, without KEY_; then aliases. */
static const struct key_name key_names[] = {
	{ "esc", 1 }, { "1", 2 }, { "2", 3 }, { "3", 4 }, { "4", 5 }, { "5", 6 },
	{ "6", 7 }, { "7", 8 }, { "8", 9 }, { "9", 10 }, { "0", 11 },
	{ "minus", 12 }, { "equal", 13 }, { "backspace", 14 }, { "tab", 15 },
	{ "q", 16 }, { "w", 17 }, { "e", 18 }, { "r", 19 }, { "t", 20 },
	{ "y", 21 }, { "u", 22 }, { "i", 23 }, { "o", 24 }, { "p", 25 },
	{ "leftbrace", 26 }, { "rightbrace", 27 }, { "enter", 28 },
	{ "leftctrl", 29 }, { "a", 30 }, { "s", 31 }, { "d", 32 }, { "f", 33 },
	{ "g", 34 }, { "h", 35 }, { "j", 36 }, { "k", 37 }, { "l", 38 },
	{ "semicolon", 39 }, { "apostrophe", 40 }, { "grave", 41 },
	{ "leftshift", 42 }, { "backslash", 43 }, { "z", 44 }, { "x", 45 },
	{ "c", 46 }, { "v", 47 }, { "b", 48 }, { "n", 49 }, { "m", 50 },
	{ "comma", 51 }, { "dot", 52 }, { "slash", 53 }, { "rightshift", 54 },
	{ "kpasterisk", 55 }, { "leftalt", 56 }, { "space", 57 },
	{ "capslock", 58 }, { "f1", 59 }, { "f2", 60 }, { "f3", 61 },
	{ "f4", 62 }, { "f5", 63 }, { "f6", 64 }, { "f7", 65 }, { "f8", 66 },
	{ "f9", 67 }, { "f10", 68 }, { "numlock", 69 }, { "scrolllock", 70 },
	{ "kp7", 71 }, { "kp8", 72 }, { "kp9", 73 }, { "kpminus", 74 },
	{ "kp4", 75 }, { "kp5", 76 }, { "kp6", 77 }, { "kpplus", 78 },
	{ "kp1", 79 }, { "kp2", 80 }, { "kp3", 81 }, { "kp0", 82 },
	{ "kpdot", 83 }, { "102nd", 86 }, { "f11", 87 }, { "f12", 88 },
	{ "kpenter", 96 }, { "rightctrl", 97 }, { "kpslash", 98 },
	{ "sysrq", 99 }, { "rightalt", 100 }, { "linefeed", 101 },
	{ "home", 102 }, { "up", 103 }, { "pageup", 104 }, { "left", 105 },
	{ "right", 106 }, { "end", 107 }, { "down", 108 }, { "pagedown", 109 },
	{ "insert", 110 }, { "delete", 111 }, { "mute", 113 },
	{ "volumedown", 114 }, { "volumeup", 115 }, { "power", 116 },
	{ "kpequal", 117 }, { "pause", 119 }, { "kpcomma", 121 },
	{ "leftmeta", 125 }, { "rightmeta", 126 }, { "compose", 127 },
	{ "stop", 128 }, { "menu", 139 }, { "sleep", 142 }, { "wakeup", 143 },
	{ "back", 158 }, { "forward", 159 },
	{ "f13", 183 }, { "f14", 184 }, { "f15", 185 }, { "f16", 186 },
	{ "f17", 187 }, { "f18", 188 }, { "f19", 189 }, { "f20", 190 },
	{ "f21", 191 }, { "f22", 192 }, { "f23", 193 }, { "f24", 194 },
	{ "print", 210 },
	/* aliases */
	{ "ctrl", 29 }, { "control", 29 }, { "alt", 56 }, { "shift", 42 },
	{ "meta", 125 }, { "super", 125 }, { "win", 125 }, { "cmd", 125 },
	{ "altgr", 100 }, { "escape", 1 }, { "return", 28 }, { "del", 111 },
	{ "ins", 110 }, { "pgup", 104 }, { "pgdn", 109 }, { "period", 52 },
	{ "caps", 58 }, { "prtsc", 99 },
	{ "-", 12 }, { "=", 13 }, { "[", 26 }, { "]", 27 }, { ";", 39 },
	{ "'", 40 }, { "`", 41 }, { "\\", 43 }, { ",", 51 }, { ".", 52 },
	{ "/", 53 },
};

static const struct key_name button_names[] = {
	{ "left", BTN_LEFT }, { "right", BTN_RIGHT }, { "middle", BTN_MIDDLE },
	{ "side", BTN_SIDE }, { "extra", BTN_EXTRA }, { "forward", BTN_FORWARD },
	{ "back", BTN_BACK },
};

static int name_lookup(const struct key_name *t, size_t nr, const char *name, size_t len)
{
	for (size_t i = 0; i < nr; i++)
		if (strlen(t[i].name) == len && !strncasecmp(t[i].name, name, len))
			return t[i].code;
	return -ENOENT;
}

/* "#30", "#0x1e": a raw evdev code in 1..KEY_MAX. */
static int key_number(const char *s, size_t len)
{
	char buf[16], *end;
	unsigned long v;

	if (len < 2 || len >= sizeof(buf) || s[0] != '#' || !isdigit((unsigned char)s[1]))
		return -ENOENT;
	memcpy(buf, s + 1, len - 1);
	buf[len - 1] = 0;
	errno = 0;
	v = strtoul(buf, &end, 0);
	if (errno || *end || v == 0 || v > KEY_MAX_CODE)
		return -ENOENT;
	return (int)v;
}

int api_key_code(const char *name, size_t len)
{
	if (len > 4 && !strncasecmp(name, "key_", 4)) {
		name += 4;
		len -= 4;
	}
	if (len && name[0] == '#')
		return key_number(name, len);
	return name_lookup(key_names, sizeof(key_names) / sizeof(key_names[0]), name, len);
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

int api_keys_parse(const char *combo, uint16_t *codes, size_t max, struct errbuf *err)
{
	size_t nr = 0;
	const char *p = combo;

	if (!*combo)
		return err_set(err, EINVAL, "empty key combination");
	for (;;) {
		const char *end = strchr(p, '+');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *tok = p;
		int code;

		while (len && is_blank(*tok)) {
			tok++;
			len--;
		}
		while (len && is_blank(tok[len - 1]))
			len--;
		if (!len)
			return err_set(err, EINVAL, "empty key name in '%.64s'", combo);
		code = api_key_code(tok, len);
		if (code < 0)
			return err_set(err, EINVAL, "unknown key '%.*s' (names as in evdev's KEY_*, e.g. ctrl, alt, f2, enter, a; or #CODE)",
				       (int)(len > 32 ? 32 : len), tok);
		for (size_t i = 0; i < nr; i++)
			if (codes[i] == code)
				return err_set(err, EINVAL, "key '%.*s' appears twice in '%.64s'",
					       (int)(len > 32 ? 32 : len), tok, combo);
		if (nr == max)
			return err_set(err, E2BIG, "more than %zu keys in one combination", max);
		codes[nr++] = (uint16_t)code;
		if (!end)
			break;
		p = end + 1;
	}
	return (int)nr;
}

static int push(struct api_input_event *ev, size_t cap, size_t *n, struct api_input_event e)
{
	if (*n >= cap)
		return -E2BIG;
	ev[(*n)++] = e;
	return 0;
}

static int push_key(struct api_input_event *ev, size_t cap, size_t *n,
		    enum api_input_kind kind, uint16_t code, int value)
{
	return push(ev, cap, n, (struct api_input_event){ .kind = kind, .code = code, .value = value });
}

int api_keys_events(const uint16_t *codes, size_t nr, bool press, bool release,
		    struct api_input_event *ev, size_t cap, size_t *n)
{
	for (size_t i = 0; press && i < nr; i++)
		if (push_key(ev, cap, n, API_INPUT_KEY, codes[i], 1))
			return -E2BIG;
	for (size_t i = nr; release && i > 0; i--)
		if (push_key(ev, cap, n, API_INPUT_KEY, codes[i - 1], 0))
			return -E2BIG;
	return 0;
}

/* US layout: the key and whether shift is held, for one ASCII character. */
static int us_key(unsigned char c, uint16_t *code, bool *shift)
{
	static const char plain[] = "-=[];'`\\,./";
	static const char shifted[] = "_+{}:\"~|<>?";
	static const uint16_t sym_codes[] = { 12, 13, 26, 27, 39, 40, 41, 43, 51, 52, 53 };
	static const char digit_shift[] = ")!@#$%^&*(";
	static const uint16_t letter_codes[] = {
		30, 48, 46, 32, 18, 33, 34, 35, 23, 36, 37, 38, 50,
		49, 24, 25, 16, 19, 31, 20, 22, 47, 17, 45, 21, 44,
	};
	const char *hit;

	*shift = false;
	if (c >= 'a' && c <= 'z') {
		*code = letter_codes[c - 'a'];
	} else if (c >= 'A' && c <= 'Z') {
		*code = letter_codes[c - 'A'];
		*shift = true;
	} else if (c >= '0' && c <= '9') {
		*code = c == '0' ? 11 : (uint16_t)(c - '1' + 2);
	} else if (c == ' ') {
		*code = 57;
	} else if (c == '\n') {
		*code = 28;
	} else if (c == '\t') {
		*code = 15;
	} else if (c && (hit = strchr(plain, c))) {
		*code = sym_codes[hit - plain];
	} else if (c && (hit = strchr(shifted, c))) {
		*code = sym_codes[hit - shifted];
		*shift = true;
	} else if (c && (hit = strchr(digit_shift, c))) {
		*code = hit == digit_shift ? 11 : (uint16_t)(hit - digit_shift - 1 + 2);
		*shift = true;
	} else {
		return -EINVAL;
	}
	return 0;
}

int api_text_events(const char *text, size_t len, struct api_input_event *ev,
		    size_t cap, size_t *n, struct errbuf *err)
{
	for (size_t i = 0; i < len; i++) {
		uint16_t code;
		bool shift;
		int ret = 0;

		if (us_key((unsigned char)text[i], &code, &shift))
			return err_set(err, EINVAL, "character %zu (0x%02x) cannot be typed on a US keyboard layout",
				       i, (unsigned char)text[i]);
		if (shift)
			ret |= push_key(ev, cap, n, API_INPUT_KEY, KEY_LEFTSHIFT, 1);
		ret |= push_key(ev, cap, n, API_INPUT_KEY, code, 1);
		ret |= push_key(ev, cap, n, API_INPUT_KEY, code, 0);
		if (shift)
			ret |= push_key(ev, cap, n, API_INPUT_KEY, KEY_LEFTSHIFT, 0);
		if (ret)
			return err_set(err, E2BIG, "too many input events (at most %d per request)",
				       API_INPUT_EVENTS_MAX);
	}
	return 0;
}

/* ---- the JSON body of POST /vm/input ------------------------------------- */

enum action { ACT_BOTH, ACT_PRESS, ACT_RELEASE };

/* Fails on members other than @allowed (NULL-terminated): typos get a 400, not silence. */
static int check_members(const json_t *obj, size_t idx, const char *const *allowed,
			 struct errbuf *err)
{
	const char *key;
	json_t *val;

	json_object_foreach((json_t *)obj, key, val) {
		bool ok = false;

		for (const char *const *a = allowed; *a; a++)
			ok |= !strcmp(key, *a);
		if (!ok)
			return err_set(err, EINVAL, "event %zu: unknown field '%.32s'", idx, key);
	}
	return 0;
}

static int parse_action(const json_t *obj, size_t idx, const char *both, enum action *act,
			struct errbuf *err)
{
	const json_t *a = json_object_get(obj, "action");
	const char *s;

	*act = ACT_BOTH;
	if (!a)
		return 0;
	s = json_string_value(a);
	if (!s)
		return err_set(err, EINVAL, "event %zu: \"action\" must be a string", idx);
	if (!strcmp(s, both))
		*act = ACT_BOTH;
	else if (!strcmp(s, "press"))
		*act = ACT_PRESS;
	else if (!strcmp(s, "release"))
		*act = ACT_RELEASE;
	else
		return err_set(err, EINVAL, "event %zu: \"action\" is \"%s\", \"press\" or \"release\"",
			       idx, both);
	return 0;
}

/* "codes": [29, 56] (or one number) -> codes; the count or -errno. */
static int parse_codes(const json_t *v, size_t idx, uint16_t *codes, struct errbuf *err)
{
	size_t nr = json_is_array(v) ? json_array_size(v) : 1;

	if (!json_is_array(v) && !json_is_integer(v))
		return err_set(err, EINVAL, "event %zu: \"codes\" must be an evdev code or an array of them", idx);
	if (nr == 0 || nr > API_KEYS_MAX)
		return err_set(err, EINVAL, "event %zu: \"codes\" needs 1 to %d codes", idx, API_KEYS_MAX);
	for (size_t i = 0; i < nr; i++) {
		const json_t *c = json_is_array(v) ? json_array_get(v, i) : v;
		json_int_t code = json_integer_value(c);

		if (!json_is_integer(c) || code < 1 || code > KEY_MAX_CODE)
			return err_set(err, EINVAL, "event %zu: evdev codes are integers in 1..%d",
				       idx, KEY_MAX_CODE);
		codes[i] = (uint16_t)code;
	}
	return (int)nr;
}

static int parse_key(const json_t *e, size_t idx, struct api_input_event *ev, size_t cap,
		     size_t *n, struct errbuf *err)
{
	static const char *const members[] = { "type", "keys", "codes", "action", NULL };
	const json_t *keys = json_object_get(e, "keys"), *cv = json_object_get(e, "codes");
	uint16_t codes[API_KEYS_MAX];
	enum action act;
	int nr, ret;

	if ((ret = check_members(e, idx, members, err)) || (ret = parse_action(e, idx, "tap", &act, err)))
		return ret;
	if (!keys == !cv)
		return err_set(err, EINVAL, "event %zu: a key event has \"keys\" (e.g. \"ctrl+alt+f2\") or \"codes\"", idx);
	if (keys) {
		struct errbuf kerr;

		if (!json_is_string(keys))
			return err_set(err, EINVAL, "event %zu: \"keys\" must be a string", idx);
		nr = api_keys_parse(json_string_value(keys), codes, API_KEYS_MAX, &kerr);
		if (nr < 0)
			return err_set(err, -nr, "event %zu: %s", idx, kerr.msg);
	} else {
		nr = parse_codes(cv, idx, codes, err);
		if (nr < 0)
			return nr;
	}
	if (api_keys_events(codes, (size_t)nr, act != ACT_RELEASE, act != ACT_PRESS, ev, cap, n))
		return err_set(err, E2BIG, "too many input events (at most %d per request)", API_INPUT_EVENTS_MAX);
	return 0;
}

static int parse_text(const json_t *e, size_t idx, struct api_input_event *ev, size_t cap,
		      size_t *n, struct errbuf *err)
{
	static const char *const members[] = { "type", "text", NULL };
	const json_t *t = json_object_get(e, "text");
	struct errbuf terr;
	int ret;

	if ((ret = check_members(e, idx, members, err)))
		return ret;
	if (!json_is_string(t))
		return err_set(err, EINVAL, "event %zu: a text event needs \"text\": a string", idx);
	ret = api_text_events(json_string_value(t), json_string_length(t), ev, cap, n, &terr);
	if (ret)
		return err_set(err, -ret, "event %zu: %s", idx, terr.msg);
	return 0;
}

static int int_member(const json_t *e, size_t idx, const char *name, json_int_t lo,
		      json_int_t hi, int32_t *out, struct errbuf *err)
{
	const json_t *v = json_object_get(e, name);
	json_int_t i = json_integer_value(v);

	if (!json_is_integer(v) || i < lo || i > hi)
		return err_set(err, EINVAL, "event %zu: \"%s\" must be an integer in %lld..%lld",
			       idx, name, (long long)lo, (long long)hi);
	*out = (int32_t)i;
	return 0;
}

static int parse_move(const json_t *e, size_t idx, struct api_input_event *ev, size_t cap,
		      size_t *n, struct errbuf *err)
{
	static const char *const members[] = { "type", "x", "y", NULL };
	struct api_input_event m = { .kind = API_INPUT_MOVE };
	int ret;

	if ((ret = check_members(e, idx, members, err)) ||
	    (ret = int_member(e, idx, "x", 0, MOVE_MAX, &m.x, err)) ||
	    (ret = int_member(e, idx, "y", 0, MOVE_MAX, &m.y, err)))
		return ret;
	if (push(ev, cap, n, m))
		return err_set(err, E2BIG, "too many input events (at most %d per request)", API_INPUT_EVENTS_MAX);
	return 0;
}

static int parse_button(const json_t *e, size_t idx, struct api_input_event *ev, size_t cap,
			size_t *n, struct errbuf *err)
{
	static const char *const members[] = { "type", "button", "action", NULL };
	const json_t *b = json_object_get(e, "button");
	enum action act;
	int code, ret;

	if ((ret = check_members(e, idx, members, err)) || (ret = parse_action(e, idx, "click", &act, err)))
		return ret;
	if (json_is_string(b)) {
		code = name_lookup(button_names, sizeof(button_names) / sizeof(button_names[0]),
				   json_string_value(b), json_string_length(b));
	} else if (json_is_integer(b) && json_integer_value(b) >= BTN_LEFT &&
		   json_integer_value(b) <= BTN_BACK) {
		code = (int)json_integer_value(b);
	} else {
		code = -ENOENT;
	}
	if (code < 0)
		return err_set(err, EINVAL, "event %zu: \"button\" is left, right, middle, side, extra, forward, back or a BTN_* code", idx);
	ret = 0;
	if (act != ACT_RELEASE)
		ret |= push_key(ev, cap, n, API_INPUT_BUTTON, (uint16_t)code, 1);
	if (act != ACT_PRESS)
		ret |= push_key(ev, cap, n, API_INPUT_BUTTON, (uint16_t)code, 0);
	if (ret)
		return err_set(err, E2BIG, "too many input events (at most %d per request)", API_INPUT_EVENTS_MAX);
	return 0;
}

static int parse_wheel(const json_t *e, size_t idx, struct api_input_event *ev, size_t cap,
		       size_t *n, struct errbuf *err)
{
	static const char *const members[] = { "type", "delta", NULL };
	struct api_input_event w = { .kind = API_INPUT_WHEEL };
	int ret;

	if ((ret = check_members(e, idx, members, err)) ||
	    (ret = int_member(e, idx, "delta", -WHEEL_MAX, WHEEL_MAX, &w.value, err)))
		return ret;
	if (push(ev, cap, n, w))
		return err_set(err, E2BIG, "too many input events (at most %d per request)", API_INPUT_EVENTS_MAX);
	return 0;
}

int api_input_parse(const json_t *root, struct api_input_event *ev, size_t cap,
		    size_t *n, struct errbuf *err)
{
	static const struct {
		const char *type;
		int (*parse)(const json_t *, size_t, struct api_input_event *, size_t,
			     size_t *, struct errbuf *);
	} kinds[] = {
		{ "key", parse_key }, { "text", parse_text }, { "move", parse_move },
		{ "button", parse_button }, { "wheel", parse_wheel },
	};
	const json_t *events = json_object_get(root, "events");
	const json_t *e;
	size_t idx;

	*n = 0;
	if (!json_is_object(root) || json_object_size(root) != 1 || !json_is_array(events))
		return err_set(err, EINVAL, "the body is {\"events\": [...]} (docs/API.md)");
	if (json_array_size(events) == 0)
		return err_set(err, EINVAL, "\"events\" is empty");
	json_array_foreach(events, idx, e) {
		const char *type = json_string_value(json_object_get(e, "type"));
		size_t k;
		int ret;

		if (!json_is_object(e) || !type)
			return err_set(err, EINVAL, "event %zu: an object with a \"type\"", idx);
		for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
			if (!strcmp(type, kinds[k].type))
				break;
		if (k == sizeof(kinds) / sizeof(kinds[0]))
			return err_set(err, EINVAL, "event %zu: type \"%.32s\" is not key, text, move, button or wheel",
				       idx, type);
		ret = kinds[k].parse(e, idx, ev, cap, n, err);
		if (ret)
			return ret;
	}
	return 0;
}

bool api_json_too_deep(const void *body, size_t len, unsigned max)
{
	const unsigned char *p = body;
	unsigned depth = 0;
	bool in_string = false, escaped = false;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = p[i];

		if (in_string) {
			if (escaped)
				escaped = false;
			else if (c == '\\')
				escaped = true;
			else if (c == '"')
				in_string = false;
		} else if (c == '"') {
			in_string = true;
		} else if (c == '[' || c == '{') {
			if (++depth > max)
				return true;
		} else if ((c == ']' || c == '}') && depth) {
			depth--;
		}
	}
	return false;
}
