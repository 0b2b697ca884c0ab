/* cifar.c — CIFAR-10 and CIFAR-100 binary versions.
 *
 * Shape letters: N records, C = 3 planes (R, G, B), H = W = 32. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "data_int.h"
#include "loaders.h"

#define CIFAR_PIX 3072

/* Appends the records of one file to *x / *lab (grown), checking sizes and
 * labels.  label_bytes 1 (CIFAR-10) or 2 (CIFAR-100: coarse, fine). */
static kd_data_status read_cifar_file(const char *path, int label_bytes,
                                      uint8_t **x, int32_t **lab, int64_t *n,
                                      char *err, size_t errlen)
{
    const int64_t rec = label_bytes + CIFAR_PIX;
    FILE *f = fopen(path, "rb");
    if (!f)
        return kd_data_fail(err, errlen, KD_DATA_ENOENT, "%s: cannot open: %s", path,
                            strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return kd_data_fail(err, errlen, KD_DATA_ENOENT, "%s: not a regular file", path);
    }
    int64_t size = (int64_t)sb.st_size;
    if (size == 0 || size % rec != 0) {
        fclose(f);
        return kd_data_fail(err, errlen, KD_DATA_EFORMAT, "%s: size %lld is not a "
                            "multiple of the record size %lld (%d label byte%s + 3072 "
                            "pixels): truncated or not a CIFAR-%s file", path,
                            (long long)size, (long long)rec, label_bytes,
                            label_bytes > 1 ? "s" : "", label_bytes > 1 ? "100" : "10");
    }
    int64_t m = size / rec;
    uint8_t *nx = realloc(*x, (size_t)(*n + m) * CIFAR_PIX);
    if (nx)
        *x = nx;
    int32_t *nl = nx ? realloc(*lab, (size_t)(*n + m) * sizeof(int32_t)) : NULL;
    if (nl)
        *lab = nl;
    uint8_t *buf = nl ? malloc((size_t)rec * 256) : NULL;
    if (!buf) {
        fclose(f);
        return kd_data_fail(err, errlen, KD_DATA_ENOMEM, "%s: out of memory", path);
    }
    for (int64_t i = 0; i < m;) {
        int64_t chunk = m - i < 256 ? m - i : 256;
        if (fread(buf, (size_t)rec, (size_t)chunk, f) != (size_t)chunk) {
            free(buf);
            fclose(f);
            return kd_data_fail(err, errlen, KD_DATA_EFORMAT, "%s: read error at record "
                                "%lld", path, (long long)i);
        }
        for (int64_t j = 0; j < chunk; j++) {
            const uint8_t *r = buf + j * rec;
            int lbl = r[label_bytes - 1];
            int max = label_bytes == 1 ? 10 : 100;
            if (label_bytes == 2 && r[0] >= 20) {
                int coarse = r[0];
                free(buf);
                fclose(f);
                return kd_data_fail(err, errlen, KD_DATA_EFORMAT, "%s: record %lld: coarse "
                                    "label %d out of range (0..19)", path,
                                    (long long)(i + j), coarse);
            }
            if (lbl >= max) {
                free(buf);
                fclose(f);
                return kd_data_fail(err, errlen, KD_DATA_EFORMAT, "%s: record %lld: label "
                                    "%d out of range (0..%d)", path, (long long)(i + j),
                                    lbl, max - 1);
            }
            (*lab)[*n + i + j] = lbl;
            memcpy(*x + (size_t)(*n + i + j) * CIFAR_PIX, r + label_bytes, CIFAR_PIX);
        }
        i += chunk;
    }
    free(buf);
    fclose(f);
    *n += m;
    return KD_DATA_OK;
}

static kd_data_status load_cifar(const char *dir, int label_bytes,
                                 const char *const *train_files,
                                 const char *const *test_files,
                                 kd_dataset *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return kd_data_fail(err, errlen, KD_DATA_ENOENT, "%s: no such directory "
                            "(the binary version of CIFAR-%s)", dir,
                            label_bytes == 1 ? "10" : "100");
    out->kind = KD_DATA_IMAGES;
    out->dtype = KD_U8;
    out->c = 3;
    out->h = out->w = 32;
    out->classes = label_bytes == 1 ? 10 : 100;
    if (!(out->source = kd_data_strdup(dir)))
        return kd_data_fail(err, errlen, KD_DATA_ENOMEM, "%s: out of memory", dir);
    const char *const *lists[2] = { train_files, test_files };
    static const char *const names[2] = { "train", "test" };
    for (int s = 0; s < 2; s++) {
        kd_split sp = { 0 };
        uint8_t *x = NULL;
        for (const char *const *f = lists[s]; *f; f++) {
            char *p = kd_path_join(dir, *f);
            kd_data_status st = p ? read_cifar_file(p, label_bytes, &x, &sp.label, &sp.n,
                                                    err, errlen)
                                  : kd_data_fail(err, errlen, KD_DATA_ENOMEM,
                                                 "%s: out of memory", dir);
            free(p);
            if (st != KD_DATA_OK) {
                free(x);
                free(sp.label);
                kd_dataset_free(out);
                return st;
            }
        }
        sp.x = x;
        kd_data_status st = kd_dataset_add_split(out, names[s], &sp, err, errlen);
        if (st != KD_DATA_OK) {
            kd_dataset_free(out);
            return st;
        }
    }
    return KD_DATA_OK;
}

kd_data_status kd_load_cifar10(const char *dir, kd_dataset *out, char *err, size_t errlen)
{
    static const char *const train[] = { "data_batch_1.bin", "data_batch_2.bin",
        "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", NULL };
    static const char *const test[] = { "test_batch.bin", NULL };
    return load_cifar(dir, 1, train, test, out, err, errlen);
}

kd_data_status kd_load_cifar100(const char *dir, kd_dataset *out, char *err, size_t errlen)
{
    static const char *const train[] = { "train.bin", NULL };
    static const char *const test[] = { "test.bin", NULL };
    return load_cifar(dir, 2, train, test, out, err, errlen);
}

/* ---- the registry entries ----------------------------------------------------- */


static const kd_loader_argdef cifar_args[] = {
    { .name = "dir", .kind = KD_LARG_STR, .req = 1,
      .doc = "directory of the binary version's .bin files" },
};

static kd_data_status cifar10_shape(const kd_loader_args *a, kd_sample_shape *out,
                                    char *err, size_t errlen)
{
    (void)a; (void)err; (void)errlen;
    kd_sample_shape_set(out, KD_DATA_IMAGES, 3, 3, 32, 32, 10);
    return KD_DATA_OK;
}

static kd_data_status cifar100_shape(const kd_loader_args *a, kd_sample_shape *out,
                                     char *err, size_t errlen)
{
    (void)a; (void)err; (void)errlen;
    kd_sample_shape_set(out, KD_DATA_IMAGES, 3, 3, 32, 32, 100);
    return KD_DATA_OK;
}

static kd_data_status cifar10_load(const kd_loader_args *a, uint64_t seed, kd_dataset *out,
                                   char *err, size_t errlen)
{
    (void)seed;
    return kd_load_cifar10(kd_larg_str(a, "dir"), out, err, errlen);
}

static kd_data_status cifar100_load(const kd_loader_args *a, uint64_t seed, kd_dataset *out,
                                    char *err, size_t errlen)
{
    (void)seed;
    return kd_load_cifar100(kd_larg_str(a, "dir"), out, err, errlen);
}

const kd_loader_def kd_loader_cifar10 = {
    .name = "cifar10",
    .doc = "CIFAR-10 binary batches in a directory (train/test)",
    .kind = KD_DATA_IMAGES, .splits = "train|test",
    .nargs = 1, .args = cifar_args,
    .shape = cifar10_shape, .load = cifar10_load,
};

const kd_loader_def kd_loader_cifar100 = {
    .name = "cifar100",
    .doc = "CIFAR-100 binary files in a directory (train/test, fine labels)",
    .kind = KD_DATA_IMAGES, .splits = "train|test",
    .nargs = 1, .args = cifar_args,
    .shape = cifar100_shape, .load = cifar100_load,
};
