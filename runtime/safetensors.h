/* safetensors.h — read and write .safetensors files of float32 tensors.
 *
 * Format (https://github.com/huggingface/safetensors):
 *   8 bytes   N, the header length, unsigned little-endian
 *   N bytes   a JSON object, UTF-8:
 *               { "NAME": {"dtype": "F32", "shape": [2, 3],
 *                          "data_offsets": [BEGIN, END]}, ...,
 *                 "__metadata__": {"key": "value", ...} }
 *   the data  tensors' bytes, little-endian; offsets are relative to the
 *             start of the data area and must tile it exactly.
 *
 * Writing: tensors in the caller's order (the data in the same order),
 * "__metadata__" first (always: it holds the checksum), the header padded with spaces so that
 * the data starts at a multiple of 8; atomically: a temporary file
 * "PATH.tmp.XXXXXX" in the same directory, fsync, rename over PATH, fsync
 * the directory.  A crash leaves either the old file or the new one.
 *
 * Checksum: the writer adds the metadata key "kdrun.crc32", the CRC-32
 * (IEEE, as zlib.crc32) of the data area as stored, 8 lowercase hex digits;
 * the reader recomputes it and refuses a file whose data does not match.
 * A file without the key (an older kdrun's, or another program's) is read
 * unchecked: kd_st_checksummed() tells the caller, who may warn.  The key
 * is the container's: kd_st_meta_* do not list it, kd_st_write refuses it.
 *
 * Reading: the whole file is checked (header length against the file size,
 * the JSON, each entry's dtype, shape and offsets, duplicate names, offsets
 * tiling the data area) and every problem is reported as a message
 * "PATH: what is wrong" in the kdr_diag; kdrun reads only F32 tensors
 * (other dtypes are named in the error).  Unknown fields of a tensor entry
 * are ignored, as the reference implementation does.
 *
 * Reading is safetensors_read.c (with the header parser in
 * safetensors_json.c), writing safetensors_write.c.
 */
#ifndef KD_SAFETENSORS_H
#define KD_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>
#include "../lang/kdr.h"

#define KD_ST_MAXDIM 8
/* Largest header accepted (the reference implementation's limit). */
#define KD_ST_MAX_HEADER ((uint64_t)100000000)

typedef struct kd_st_tensor {
    const char *name;
    int ndim;
    int64_t shape[KD_ST_MAXDIM];
    const float *data;               /* shape product floats */
} kd_st_tensor;

typedef struct kd_st_meta {
    const char *key;
    const char *value;
} kd_st_meta;

/* Number of elements of a tensor (1 for a scalar, ndim 0). */
int64_t kd_st_numel(const kd_st_tensor *t);

/* Write tensors t[0..n) and metadata m[0..nmeta) to path.  Names must be
 * non-empty, unique and not "__metadata__"; ndim in 0..KD_ST_MAXDIM; dims
 * >= 0.  0, or -1 with "PATH: ..." in d (path left untouched). */
int kd_st_write(const char *path, const kd_st_tensor *t, size_t n,
                const kd_st_meta *m, size_t nmeta, kdr_diag *d);

typedef struct kd_st_file kd_st_file;

/* Read and validate a file.  NULL with "PATH: ..." in d on any problem. */
kd_st_file *kd_st_read(const char *path, kdr_diag *d);
void kd_st_free(kd_st_file *f);

/* Tensors in the order of their data offsets. */
size_t kd_st_count(const kd_st_file *f);
const kd_st_tensor *kd_st_at(const kd_st_file *f, size_t i);
/* A tensor by name, or NULL. */
const kd_st_tensor *kd_st_find(const kd_st_file *f, const char *name);
/* Metadata, in file order. */
size_t kd_st_meta_count(const kd_st_file *f);
const kd_st_meta *kd_st_meta_at(const kd_st_file *f, size_t i);
/* A metadata value by key, or NULL. */
const char *kd_st_meta_get(const kd_st_file *f, const char *key);
/* 1 if the file carried a checksum (and it matched: else it was not read). */
int kd_st_checksummed(const kd_st_file *f);

/* The writer's checksum key in the metadata. */
#define KD_ST_CRC_KEY "kdrun.crc32"

#endif
