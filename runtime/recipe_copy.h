/* recipe_copy.h — RUN_DIR/recipe/: the recipe and every file it uses. */
#ifndef KD_RECIPE_COPY_H
#define KD_RECIPE_COPY_H

#include <stddef.h>
#include "../lang/kdr.h"

/* Copy the bytes kdrun parsed: the root file as recipe/<its name>, a used
 * file as recipe/<the path its `use` wrote> (so `use "nets/resnet.kdr"`
 * lands in recipe/nets/resnet.kdr and the copy runs as it is; ".." becomes
 * "__", an absolute path goes under recipe/abs/).  0, or -1 with err. */
int kd_copy_recipe(const char *run_dir, const kdr_program *p, char *err, size_t n);

/* The `use` string that names unit u of p, or NULL. */
const char *kd_use_of(const kdr_program *p, const kdr_unit *u);

/* The recipe's meaning as text: per file, each top-level statement's
 * syntax tree on one line (comments, blank lines and layout gone, numbers
 * exact).  malloc'd, NULL if out of memory. */
char *kd_recipe_canon(const kdr_program *p);

/* Does the recipe kept in run_dir/recipe/ mean what `now` means (same
 * canonical form)?  0 yes; 1 no, with the first differing statement, then
 * and now, in what; -1 cannot tell (no copy kept, or it does not load). */
int kd_recipe_same_meaning(const char *run_dir, const kdr_program *now, char *what, size_t n);

#endif
