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

#endif
