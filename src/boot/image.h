/* A kernel or initrd file, mapped read-only for the loaders.
 * Owns: opening, checking (regular, non-empty, readable) and mapping the file. */
#ifndef MOTE_BOOT_IMAGE_H
#define MOTE_BOOT_IMAGE_H

#include <stddef.h>
#include <stdint.h>

struct image {
	const uint8_t *data;
	size_t size;
};

/* what names the file in messages ("kernel", "initrd"). Returns 0, or -1 with err set. */
int image_map(const char *path, const char *what, struct image *img, char *err, size_t errlen);
void image_unmap(struct image *img);

#endif
