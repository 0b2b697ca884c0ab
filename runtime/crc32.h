/* crc32.h — CRC-32 (IEEE 802.3, the polynomial of zlib, PNG and gzip:
 * Python's zlib.crc32 gives the same numbers), for the checksum of a
 * checkpoint's data (safetensors.h). */
#ifndef KD_CRC32_H
#define KD_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* The CRC of data[0..n) continued from crc (0 to start). */
uint32_t kd_crc32(uint32_t crc, const void *data, size_t n);

#endif
