/* dym.h — "did you mean" for names outside the checker's scopes: command
 * line keys and values, and the spellings users bring from PyTorch. */
#ifndef KDR_DYM_H
#define KDR_DYM_H

#include <stddef.h>

/* "; did you mean 'x'?" in buf for the candidate closest to want (edit
 * distance at most 2 and less than want's length), else "".  Returns buf. */
const char *kdr_dym(const char *want, const char *const *cands, size_t n, char *buf, size_t len);

/* kdrun's spelling of a name commonly written the PyTorch (torch.nn,
 * torch.nn.functional, torchdistill, mdistiller) way, in a context:
 * 'f' a function or op (cross_entropy -> ce), 'a' an argument name
 * (temperature -> T), 's' a setting word (epoch -> epochs).  NULL if none. */
const char *kdr_dym_alias(const char *want, int ctx);

#endif
