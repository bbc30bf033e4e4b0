// SPDX-License-Identifier: GPL-2.0
/*
 * needles.c - host tool: reads `openssl pkey -text -noout` from stdin and
 * writes the needle file of lib/needles.h for the named fields to stdout.
 *
 *   openssl pkey -in k.pem -text -noout | needles PREFIX FIELD... >k.needles
 *
 * Each field (prime1, privateExponent, priv, ...) is a number in the text
 * as colon-separated hex.  For each, the 32-byte windows at its start,
 * middle and end are written in big-endian order (DER, the key file's
 * binary form) and in little-endian order (BIGNUM limbs on x86-64), each
 * as a random mask and the needle XOR that mask.  A number shorter than
 * 32 bytes is zero-padded as a fixed-size encoding would be (big-endian on
 * the left, little-endian on the right).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define MAXB 1024
#define WIN 32

static void emit(const char *name, const unsigned char *w)
{
	unsigned char mask[WIN];
	int i;

	if (getrandom(mask, WIN, 0) != WIN) {
		perror("getrandom");
		exit(1);
	}
	printf("%s ", name);
	for (i = 0; i < WIN; i++)
		printf("%02x", mask[i]);
	putchar(' ');
	for (i = 0; i < WIN; i++)
		printf("%02x", mask[i] ^ w[i]);
	putchar('\n');
}

static void windows(const char *prefix, const char *field, const unsigned char *be, int n)
{
	unsigned char pad[WIN], le[MAXB], name[128];
	int offs[3], i, k, nw;

	while (n > 0 && !be[0]) {	/* strip the sign byte / leading zeros */
		be++;
		n--;
	}
	if (n < WIN) {
		memset(pad, 0, WIN);
		memcpy(pad + WIN - n, be, n);
		be = pad;
		n = WIN;
	}
	for (i = 0; i < n; i++)
		le[i] = be[n - 1 - i];
	offs[0] = 0;
	offs[1] = (n - WIN) / 2;
	offs[2] = n - WIN;
	nw = n == WIN ? 1 : 3;
	for (k = 0; k < nw; k++) {
		snprintf((char *)name, sizeof(name), "%s.%s.be@%d", prefix, field, offs[k]);
		emit((char *)name, be + offs[k]);
		snprintf((char *)name, sizeof(name), "%s.%s.le@%d", prefix, field, offs[k]);
		emit((char *)name, le + offs[k]);
	}
}

int main(int argc, char **argv)
{
	static unsigned char val[MAXB];
	char line[1024], cur[64] = "";
	int n = 0, i, found = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: openssl pkey -text -noout | needles PREFIX FIELD...\n");
		return 2;
	}
	for (;;) {
		char *ok = fgets(line, sizeof(line), stdin);
		int cont = ok && isspace((unsigned char)line[0]) && line[0] != '\n';

		if (!cont && cur[0]) {	/* a field ended */
			for (i = 2; i < argc; i++)
				if (!strcmp(argv[i], cur)) {
					windows(argv[1], cur, val, n);
					found++;
				}
			cur[0] = 0;
		}
		if (!ok)
			break;
		if (cont && cur[0]) {
			char *s = line;

			while (*s) {
				if (isxdigit((unsigned char)s[0]) && isxdigit((unsigned char)s[1])) {
					if (n == MAXB) {
						fprintf(stderr, "needles: %s too long\n", cur);
						return 1;
					}
					val[n++] = (unsigned char)strtoul((char[3]){ s[0], s[1], 0 }, NULL, 16);
					s += 2;
				} else {
					s++;
				}
			}
			continue;
		}
		/* "name:" alone on its line starts a multi-line number */
		if (sscanf(line, "%63[A-Za-z0-9]:", cur) == 1 &&
		    line[strlen(cur) + 1] == '\n') {
			n = 0;
		} else {
			cur[0] = 0;
		}
	}
	explicit_bzero(val, sizeof(val));
	explicit_bzero(line, sizeof(line));
	if (found != argc - 2) {
		fprintf(stderr, "needles: found %d of %d fields\n", found, argc - 2);
		return 1;
	}
	return 0;
}
