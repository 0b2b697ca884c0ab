/* sha256.h — SHA-256 (FIPS 180-4), for the recipe hash in run reports. */
#ifndef KD_SHA256_H
#define KD_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct kd_sha256 {
    uint32_t h[8];
    uint64_t len;            /* bytes hashed so far */
    unsigned char buf[64];
    size_t nbuf;
} kd_sha256;

void kd_sha256_init(kd_sha256 *s);
void kd_sha256_update(kd_sha256 *s, const void *data, size_t n);
/* 64 lowercase hex digits and a NUL into hex[65]. */
void kd_sha256_hex(kd_sha256 *s, char hex[65]);

#endif
