/* data_int.h — helpers shared by the files of data/ (not installed). */
#ifndef KD_DATA_INT_H
#define KD_DATA_INT_H

#include <stdarg.h>
#include <stdio.h>
#include "data.h"

/* Writes the message into err (if any) and returns st. */
kd_data_status kd_data_fail(char *err, size_t errlen, kd_data_status st,
                            const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* strdup without the feature-test macros. */
char *kd_data_strdup(const char *s);

/* Appends a split with n samples and the given buffers (taken over). */
kd_data_status kd_dataset_add_split(kd_dataset *ds, const char *name,
                                    kd_split *sp, char *err, size_t errlen);

/* Sorted directory entries (not starting with '.'); want_dir 1 = only
 * directories, 0 = only regular files.  *names malloc'd array of malloc'd
 * strings.  ENOENT if the directory cannot be opened. */
kd_data_status kd_list_dir(const char *dir, int want_dir, char ***names,
                           size_t *n, char *err, size_t errlen);
void kd_free_names(char **names, size_t n);
char *kd_path_join(const char *a, const char *b);

#endif
