/* transport-file: each message as <mail_dir>/<id>.eml, written atomically, for development and tests. */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "conf.h"
#include "mail.h"
#include "transport.h"

/* mkdir -p: creates each missing component of path (mode 0755, before the umask). */
static int
mkdirs(char *path)
{
	char *p;

	for (p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) == -1 && errno != EEXIST) {
			*p = '/';
			return -1;
		}
		*p = '/';
	}
	if (mkdir(path, 0755) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

static enum um_err
file_init(struct transport *t, char *err, size_t errlen)
{
	char dir[4096];

	if (t->conf->mail_dir == NULL || t->conf->mail_dir[0] == '\0') {
		(void)snprintf(err, errlen, "USERMGR_MAIL_DIR is empty");
		return UM_EINVAL;
	}
	if ((size_t)snprintf(dir, sizeof(dir), "%s", t->conf->mail_dir) >= sizeof(dir) ||
	    mkdirs(dir) == -1) {
		(void)snprintf(err, errlen, "USERMGR_MAIL_DIR: cannot create the directory: %s",
		    strerror(errno));
		return UM_EINVAL;
	}
	return UM_OK;
}

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Temp file in the same directory, fsync, rename: a reader sees the whole file or none
 * (rename(2) is atomic within a file system); the directory fsync makes the name durable.
 */
static enum send_result
file_send(struct transport *t, struct arena *a, const struct mail_msg *m, char *err,
    size_t errlen)
{
	const char      *dir = t->conf->mail_dir;
	char            *text, *final, *tmp = NULL, msg[TRANSPORT_ERR_MAX];
	size_t           len;
	int              fd = -1, dfd = -1, made = 0;
	enum send_result rc = SEND_RETRY;

	if (mail_build(a, m, time(NULL), &text, &len) != UM_OK) {
		transport_set_err(t, err, errlen, "cannot build the message");
		rc = SEND_FAIL;
		goto out;
	}
	final = arena_printf(a, "%s/%lld.eml", dir, m->id);
	tmp = arena_printf(a, "%s/.%lld.eml.XXXXXX", dir, m->id);
	/* The directory may have been removed since start-up. */
	if (mkdirs(arena_strdup(a, dir)) == -1 || (fd = mkstemp(tmp)) == -1) {
		(void)snprintf(msg, sizeof(msg), "file: cannot create a file in %s: %s", dir,
		    strerror(errno));
		goto fail;
	}
	made = 1;
	if (fchmod(fd, 0644) == -1 || write_all(fd, text, len) == -1 || fsync(fd) == -1) {
		(void)snprintf(msg, sizeof(msg), "file: cannot write %s: %s", tmp,
		    strerror(errno));
		goto fail;
	}
	if (close(fd) == -1) {
		fd = -1;
		(void)snprintf(msg, sizeof(msg), "file: cannot write %s: %s", tmp,
		    strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, final) == -1) {
		(void)snprintf(msg, sizeof(msg), "file: cannot rename to %s: %s", final,
		    strerror(errno));
		goto fail;
	}
	made = 0;
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1)
		(void)fsync(dfd);
	rc = SEND_OK;
	goto out;
fail:
	/* A full disk or a missing directory is temporary: retry later. */
	transport_set_err(t, err, errlen, msg);
out:
	if (fd != -1)
		(void)close(fd);
	if (made)
		(void)unlink(tmp);
	if (dfd != -1)
		(void)close(dfd);
	return rc;
}

const struct transport_ops transport_file_ops = {
	.name = "file",
	.init = file_init,
	.send = file_send,
	.fini = NULL,
};
