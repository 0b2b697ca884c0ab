/* data_test.h — helpers for the data tests: a scratch directory, writing
 * files (plain and gzip), cutting them short, removing the tree. */
#ifndef KD_TESTS_DATA_TEST_H
#define KD_TESTS_DATA_TEST_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "data.h"

static char kd_tmp_root[256];
static char kd_err[1024];

/* The scratch directory (created once per program, removed by
 * kd_tmp_cleanup). */
static inline const char *kd_tmp(void)
{
    if (!kd_tmp_root[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(kd_tmp_root, sizeof kd_tmp_root, "%s/kd_data_XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(kd_tmp_root)) {
            perror("mkdtemp");
            exit(2);
        }
    }
    return kd_tmp_root;
}

/* A path under the scratch directory; a few rotating static buffers. */
static inline const char *kd_tmp_path(const char *rel)
{
    static char bufs[8][512];
    static int k;
    char *b = bufs[k++ % 8];
    snprintf(b, 512, "%s/%s", kd_tmp(), rel);
    return b;
}

/* mkdir -p of a path relative to the scratch directory. */
static inline void kd_tmp_mkdir(const char *rel)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", kd_tmp(), rel);
    for (char *s = p + strlen(kd_tmp()) + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            mkdir(p, 0755);
            *s = '/';
        }
    mkdir(p, 0755);
}

static inline int kd_write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

static inline int kd_write_gz(const char *path, const void *data, size_t n)
{
    gzFile g = gzopen(path, "wb");
    if (!g)
        return -1;
    int w = n ? gzwrite(g, data, (unsigned)n) : 0;
    return gzclose(g) == Z_OK && (size_t)w == n ? 0 : -1;
}

static inline int kd_write_text(const char *path, const char *s)
{
    return kd_write_file(path, s, strlen(s));
}

/* Keep the first n bytes of a file. */
static inline int kd_cut_file(const char *path, long n)
{
    return truncate(path, n);
}

static inline long kd_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static inline void kd_rm_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            size_t n = strlen(path) + strlen(e->d_name) + 2;
            char *p = malloc(n);
            if (!p)
                break;
            snprintf(p, n, "%s/%s", path, e->d_name);
            kd_rm_tree(p);
            free(p);
        }
        if (d)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static inline void kd_tmp_cleanup(void)
{
    if (kd_tmp_root[0])
        kd_rm_tree(kd_tmp_root);
}

#endif
