/* File mapping for boot images. Files are mapped, not read, so large kernels cost no copy. */
#include "boot/image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define IMAGE_MAX_SIZE (4ull << 30)

int image_map(const char *path, const char *what, struct image *img, char *err, size_t errlen)
{
	img->data = NULL;
	img->size = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s '%s': %s", what, path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "cannot stat %s '%s': %s", what, path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s '%s' is not a regular file", what, path);
		goto fail;
	}
	if (st.st_size == 0) {
		snprintf(err, errlen, "%s '%s' is empty", what, path);
		goto fail;
	}
	if ((uint64_t)st.st_size > IMAGE_MAX_SIZE) {
		snprintf(err, errlen, "%s '%s' is larger than 4 GiB", what, path);
		goto fail;
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "cannot read %s '%s': %s", what, path, strerror(errno));
		goto fail;
	}
	close(fd);
	img->data = p;
	img->size = (size_t)st.st_size;
	return 0;
fail:
	close(fd);
	return -1;
}

void image_unmap(struct image *img)
{
	if (img->data)
		munmap((void *)(uintptr_t)img->data, img->size);
	img->data = NULL;
	img->size = 0;
}
