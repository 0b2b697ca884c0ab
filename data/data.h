/* data.h — kdrun's data library: file-format loaders, splits, augmentation,
 * batches (prepared on one background thread).
 *
 * Shape letters: N samples, B batch rows, C channels, H height, W width,
 * L sequence length (max_len), K negatives, P patch side (sensor pixels).
 *
 * Errors are values.  Every function that can fail returns a kd_data_status
 * (0 = KD_DATA_OK) and, on failure, writes one line "FILE: what is wrong"
 * (no trailing newline) into the caller's err[errlen] buffer.  Nothing here
 * prints, exits or aborts.  The CLI maps KD_DATA_ENOMEM to exit code 1 and
 * every other failure to exit code 4 (data error).
 *
 * Storage.  Images from IDX, CIFAR and PNG folders are kept as uint8 pixels
 * (KD_U8, value v means v/255 in the batches): Fashion-MNIST takes 47 MB,
 * CIFAR-100 150 MB, instead of four times that as float.  raw_synth keeps
 * float32 linear camera RGB (KD_F32).  Batches are always float32.
 *
 * Determinism.  Every random choice is a pure function of a key through a
 * counter-based generator (splitmix64 of (seed, epoch, sample, stream)):
 * the shuffle of an epoch depends on (seed, epoch) only; the crop offset,
 * flips and noise of a sample depend on (seed, epoch, index of the sample
 * in its split) only.  Batches therefore do not depend on the thread count,
 * the batch order or whether they were built on the background thread.
 */
#ifndef KD_DATA_H
#define KD_DATA_H

#include <stddef.h>
#include <stdint.h>

typedef enum kd_data_status {
    KD_DATA_OK = 0,
    KD_DATA_ENOENT,   /* file or directory missing / unreadable */
    KD_DATA_EFORMAT,  /* malformed, truncated or inconsistent file */
    KD_DATA_EARG,     /* bad argument (unknown split, bad size, ...) */
    KD_DATA_ENOMEM,   /* out of memory */
    KD_DATA_ETHREAD   /* cannot start the background thread */
} kd_data_status;

/* ---- counter-based random numbers ---------------------------------------- */

typedef struct kd_rng { uint64_t s; } kd_rng;

/* Streams keep the uses of one (seed, epoch, index) key independent. */
enum {
    KD_STREAM_SHUFFLE = 1, KD_STREAM_AUGMENT = 2, KD_STREAM_NOISE = 3,
    KD_STREAM_HOLDOUT = 4, KD_STREAM_LIMIT = 5, KD_STREAM_NEGATIVES = 6,
    KD_STREAM_SYNTH = 7, KD_STREAM_UNPROCESS = 8, KD_STREAM_PATCH = 9
};

kd_rng kd_rng_key(uint64_t seed, uint64_t epoch, uint64_t index, uint64_t stream);
uint64_t kd_rng_u64(kd_rng *r);
double kd_rng_uniform(kd_rng *r);          /* [0, 1), 53 bits */
uint64_t kd_rng_below(kd_rng *r, uint64_t n); /* [0, n), unbiased; n >= 1 */
double kd_rng_normal(kd_rng *r);           /* N(0, 1), Box-Muller */

/* ---- the in-memory dataset ----------------------------------------------- */

typedef enum kd_data_kind {
    KD_DATA_IMAGES,     /* x [N,C,H,W], label [N] in [0, classes) */
    KD_DATA_SEQUENCES,  /* items [N,L], target [N], next [N,L], neg [N,K] */
    KD_DATA_RAW         /* x = clean linear camera RGB [N,3,P,P] (KD_F32) */
} kd_data_kind;

typedef enum kd_dtype { KD_U8, KD_F32 } kd_dtype;

typedef struct kd_split {
    char *name;
    int64_t n;
    void *x;          /* images / raw: [n, c, h, w] of dtype */
    int32_t *label;   /* images: class; sequences: the target item */
    int32_t *items;   /* sequences: [n, max_len] item ids, left-padded with 0 */
    int32_t *next;    /* sequences: [n, max_len] the item after each position
                       * (0 under padding); next[.., L-1] == label unless
                       * the history is empty (all padding) */
    int32_t *neg;     /* sequences: [n, negatives] items the user never
                       * interacted with (ranking candidates besides label) */
    int32_t *user;    /* sequences: dense user id (0-based) of each sample */
} kd_split;

typedef struct kd_dataset {
    kd_data_kind kind;
    kd_dtype dtype;
    int64_t c, h, w;        /* sample shape (images, raw) */
    int64_t classes;        /* images: number of classes */
    char **class_names;     /* image folders: sorted class names, else NULL */
    int64_t items;          /* sequences: item ids are 1..items, 0 = padding */
    int64_t users;          /* sequences: users kept */
    int64_t max_len, negatives;
    int nsplits;
    kd_split *splits;
    char *source;           /* what was loaded (directory, file or glob) */
} kd_dataset;

void kd_dataset_free(kd_dataset *ds);          /* also zeroes *ds; NULL ok */
kd_split *kd_dataset_split(const kd_dataset *ds, const char *name); /* or NULL */
size_t kd_dataset_sample_bytes(const kd_dataset *ds); /* c*h*w*sizeof(dtype) */

/* `train "train" holdout K as NAME`: move K samples of split FROM into a new
 * split NAME.  Rule: the indices 0..n-1 of FROM are shuffled by Fisher-Yates
 * with kd_rng_key(seed, 0, 0, KD_STREAM_HOLDOUT); the samples at the LAST K
 * positions of that permutation form NAME; both parts keep the original
 * file order.  0 < K < n. */
kd_data_status kd_dataset_holdout(kd_dataset *ds, const char *from, int64_t k,
                                  const char *name, uint64_t seed,
                                  char *err, size_t errlen);

/* `limit N`: keep at most N samples of split NAME: the FIRST N positions of
 * a Fisher-Yates permutation keyed (seed, 0, 0, KD_STREAM_LIMIT), in file
 * order.  No-op when N >= n. */
kd_data_status kd_dataset_limit(kd_dataset *ds, const char *name, int64_t n,
                                uint64_t seed, char *err, size_t errlen);

/* Rename a split (a recipe's `val "valid"` keeps the loader's name; this is
 * for callers that want another). */
kd_data_status kd_dataset_rename(kd_dataset *ds, const char *from,
                                 const char *to, char *err, size_t errlen);

/* ---- loaders ------------------------------------------------------------- */
/* Each fills *out (zeroed first; freed again on failure). */

/* idx(dir): DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz], splits
 * "train" and "t10k" (a split whose two files are both absent is skipped;
 * at least one split must exist).  Pixels unsigned byte, labels unsigned
 * byte; classes = max label + 1.  A missing directory under
 * /usr/share/datasets/fashion-mnist says which Debian package to install. */
kd_data_status kd_load_idx(const char *dir, kd_dataset *out,
                           char *err, size_t errlen);
/* One IDX file (plain or gzip, detected by its magic bytes 1f 8b): checks
 * the magic 00 00 08 NDIM (only unsigned byte data), the dimensions and the
 * size.  *data is malloc'd, dims[0..*ndim) its shape (ndim <= 4). */
kd_data_status kd_idx_read(const char *path, uint8_t **data, int *ndim,
                           int64_t dims[4], char *err, size_t errlen);

/* cifar10(dir): DIR/data_batch_{1..5}.bin -> "train", DIR/test_batch.bin ->
 * "test"; records of 1 label byte + 3072 pixel bytes (R, G, B planes of
 * 32x32).  cifar100(dir): DIR/train.bin, DIR/test.bin; records of coarse
 * label, fine label + 3072; the fine label is used (100 classes).  A file
 * size that is not a multiple of the record size, or a label out of range,
 * is an error naming the file. */
kd_data_status kd_load_cifar10(const char *dir, kd_dataset *out,
                               char *err, size_t errlen);
kd_data_status kd_load_cifar100(const char *dir, kd_dataset *out,
                                char *err, size_t errlen);

/* image_folder(dir, size): DIR/SPLIT/CLASS/NAME.png.  Every sub-directory of
 * DIR is a split (or only those named in `only`, a NULL-terminated list;
 * NULL = all); classes are the sorted union of CLASS names over the loaded
 * splits; files are taken in sorted order.  Images are converted to 8-bit
 * RGB, the shorter side is resized to `size` (antialiased linear filter)
 * and the centre size x size is kept.  C = 3, or 1 if every image is grey.
 * cinic10(dir) = image_folder(dir, 32) requiring exactly 10 classes. */
kd_data_status kd_load_image_folder(const char *dir, int64_t size,
                                    const char *const *only, kd_dataset *out,
                                    char *err, size_t errlen);
kd_data_status kd_load_cinic10(const char *dir, const char *const *only,
                               kd_dataset *out, char *err, size_t errlen);

/* PNG helpers (libpng simplified API).  kd_png_read returns 8-bit pixels,
 * RGB interleaved (*c = 3) or grey (*c = 1) as stored; `want_c` 3 forces
 * RGB, 0 keeps the file's. */
kd_data_status kd_png_read(const char *path, int want_c, uint8_t **pix,
                           int64_t *h, int64_t *w, int64_t *c,
                           char *err, size_t errlen);
kd_data_status kd_png_write(const char *path, const uint8_t *pix, int64_t h,
                            int64_t w, int64_t c, char *err, size_t errlen);

/* sequences(file, format, max_len, negatives): MovieLens ratings.dat
 * ("UserID::MovieID::Rating::Timestamp") or CSV "user,item,timestamp"
 * or CSV userId,movieId,rating,timestamp (MovieLens' ratings.csv)
 * (an optional header line; blank lines skipped; ids are non-negative
 * integers).  Each user's interactions are ordered by timestamp (ties in
 * file order); users and items are sorted by their ids and numbered
 * densely (items 1..items, 0 = padding).  Users with fewer than 3
 * interactions are dropped.  Leave-one-out, one sample per user and split:
 *   test:  items = history before the last item,  target = last item
 *   val:   items = history before the 2nd to last, target = 2nd to last
 *   train: items = history before the 3rd to last, target = 3rd to last
 * The history keeps the most recent max_len items, left-padded with 0.
 * neg: `negatives` distinct items the user never interacted with, sampled
 * per (seed, user) (fewer available items than negatives is an error).
 * Splits "train", "val", "test". */
typedef enum kd_seq_format { KD_SEQ_CSV, KD_SEQ_MOVIELENS } kd_seq_format;
/* kd_load_sequences_opt and kd_synth_sequences_opt take these: users with
 * fewer than min_len (>= 3) interactions are dropped; train_all: the train
 * split has one sample per position 1 .. m-3 of a user's m items (its
 * target and the history before it), not only the last one (m-3). */
typedef struct kd_seq_opts {
    int64_t max_len, negatives, min_len;
    int train_all;
} kd_seq_opts;
kd_data_status kd_load_sequences_opt(const char *path, kd_seq_format format,
                                     const kd_seq_opts *o, uint64_t seed, kd_dataset *out,
                                     char *err, size_t errlen);
kd_data_status kd_synth_sequences_opt(int64_t users, int64_t items, int64_t length,
                                      const kd_seq_opts *o, uint64_t seed, kd_dataset *out,
                                      char *err, size_t errlen);
kd_data_status kd_load_sequences(const char *path, kd_seq_format format,
                                 int64_t max_len, int64_t negatives,
                                 uint64_t seed, kd_dataset *out,
                                 char *err, size_t errlen);

/* synth_sequences(users, items, length, max_len, negatives, seed): item i
 * has popularity 1/sqrt(i); every item has 3 successors drawn by
 * popularity (a sparse transition chain); a user starts at an item drawn
 * by popularity and moves to a random successor with probability 0.9,
 * else to an item drawn by popularity, `length` items in all.
 * Then the same leave-one-out splits as kd_load_sequences. */
kd_data_status kd_synth_sequences(int64_t users, int64_t items, int64_t length,
                                  int64_t max_len, int64_t negatives,
                                  uint64_t seed, kd_dataset *out,
                                  char *err, size_t errlen);

/* raw_synth(images, unprocess, noise: poisson_gauss(log_shot), patch):
 * PNG photos matching the glob `pattern` (sorted; at least 2), image i goes
 * to "test" if i % 5 == 4, else to "train".  Unprocessing (Brooks et al.
 * 2019) with parameters drawn per image from (seed, image): sRGB -> inverse
 * smoothstep tone curve -> gamma expansion x^2.2 -> inverse colour matrix
 * (random mix of 4 camera XYZ->cam matrices) -> inverse white balance
 * (rgb gain 1/N(0.8, 0.1), red 1.9..2.4, blue 1.5..1.9, highlights kept).
 * With unprocess false, pixel/255 is taken as linear camera RGB.  From each
 * image, floor(H/patch) * floor(W/patch) patches of patch x patch at random
 * even offsets (patch must be even, <= the image's sides).  The split holds
 * the clean camera RGB [N, 3, P, P]; the batcher flips, mosaics (RGGB,
 * packed to [4, P/2, P/2]) and adds the noise. */
typedef struct kd_noise_pg {
    double log_shot_min, log_shot_max; /* natural log of the shot level */
} kd_noise_pg;
kd_data_status kd_load_raw_synth(const char *pattern, int unprocess,
                                 int64_t patch, uint64_t seed, kd_dataset *out,
                                 char *err, size_t errlen);
/* the same, with val: photo i with i % 5 == 3 held out whole as split "val"
 * (then at least 5 usable photos) */
kd_data_status kd_load_raw_synth_val(const char *pattern, int unprocess,
                                     int64_t patch, uint64_t seed, int val, kd_dataset *out,
                                     char *err, size_t errlen);

/* The noise of one sample: log shot ~ U(lo, hi); log read = 2.18 log shot
 * + 1.20 + N(0, 0.26); noisy = clean + N(0, sqrt(clean*shot + read)).
 * `clean` and `noisy` have n values; level[0] = shot, level[1] = read
 * (a variance). */
void kd_noise_pg_apply(const kd_noise_pg *pg, kd_rng *r, const float *clean,
                       float *noisy, size_t n, float level[2]);

/* RGGB mosaic of camera RGB [3,P,P] packed to [4,P/2,P/2] (R, Gr, Gb, B). */
void kd_mosaic_pack(const float *rgb, int64_t p, float *packed);

/* ---- augmentation, normalization, batches --------------------------------- */

typedef enum kd_aug_kind { KD_AUG_CROP, KD_AUG_FLIP_H, KD_AUG_FLIP_V } kd_aug_kind;
typedef struct kd_aug {
    kd_aug_kind kind;
    int64_t size, pad;   /* crop */
} kd_aug;

#define KD_MAX_AUG 8
#define KD_MAX_CHANNELS 4

typedef struct kd_loader_cfg {
    const kd_dataset *ds;
    const char *split;
    int64_t batch;             /* rows per batch, >= 1 */
    uint64_t seed;
    int shuffle;               /* permute per (seed, epoch) */
    int drop_last;             /* drop the final partial batch */
    int naug;
    kd_aug aug[KD_MAX_AUG];    /* applied in order (images and raw) */
    int nnorm;                 /* 0 = none, 1 = same for all channels, or C */
    float mean[KD_MAX_CHANNELS], std[KD_MAX_CHANNELS];
    kd_noise_pg noise;         /* raw */
} kd_loader_cfg;

typedef struct kd_batch {
    int64_t epoch, step;
    int64_t n;           /* rows filled (<= capacity) */
    int64_t c, h, w;     /* row shape of x (and y) */
    float *x;            /* images: [B,C,H,W]; raw: noisy [B,4,P/2,P/2] */
    float *y;            /* raw: clean [B,4,P/2,P/2]; else NULL */
    float *level;        /* raw: [B,2] (shot, read); else NULL */
    int32_t *label;      /* images: class; sequences: target item */
    int32_t *items;      /* sequences [B,L] */
    int32_t *next;       /* sequences [B,L] */
    int32_t *neg;        /* sequences [B,K] */
    int64_t *index;      /* [B] index of each row in the split */
    int64_t len, nneg;   /* sequences: L and K of the rows above; else 0 */
} kd_batch;

typedef struct kd_loader kd_loader;

/* Validates the configuration (split exists, crop/normalize fit C, H, W). */
kd_data_status kd_loader_new(const kd_loader_cfg *cfg, kd_loader **out,
                             char *err, size_t errlen);
void kd_loader_free(kd_loader *ld);
int64_t kd_loader_steps(const kd_loader *ld);     /* batches per epoch */
/* 1 if a row's x (images) or items (sequences) depend on its index in the
 * split alone: no augmentation, and not raw data (noise is drawn per epoch) */
int kd_loader_cfg_fixed(const kd_loader_cfg *c);
void kd_loader_shape(const kd_loader *ld, int64_t *c, int64_t *h, int64_t *w);

/* Buffers for one batch of this loader. */
kd_data_status kd_batch_alloc(const kd_loader *ld, kd_batch *b,
                              char *err, size_t errlen);
void kd_batch_free(kd_batch *b);

/* Synchronous path: fill batch `step` of `epoch` (0 <= step < steps). */
kd_data_status kd_loader_fill(kd_loader *ld, int64_t epoch, int64_t step,
                              kd_batch *b, char *err, size_t errlen);

/* The order of the samples of an epoch: perm[0..n) (identity without
 * shuffle). */
kd_data_status kd_shuffle(uint64_t seed, int64_t epoch, int64_t n, int64_t *perm);

/* Background batcher: ONE producer thread fills two batch buffers (double
 * buffering) with every step of epochs [epoch_begin, epoch_end) in order;
 * kd_batcher_next hands them out.  The batch returned stays valid until the
 * next call to kd_batcher_next or kd_batcher_stop.  Bytes are identical to
 * kd_loader_fill's. */
typedef struct kd_batcher kd_batcher;
kd_data_status kd_batcher_start(const kd_loader_cfg *cfg, int64_t epoch_begin,
                                int64_t epoch_end, kd_batcher **out,
                                char *err, size_t errlen);
/* 1: *b is the next batch; 0: no more batches; -1: failure (err set). */
int kd_batcher_next(kd_batcher *bt, const kd_batch **b, char *err, size_t errlen);
/* Stops the thread (even mid-epoch), joins it, frees everything. NULL ok. */
void kd_batcher_stop(kd_batcher *bt);

#endif
