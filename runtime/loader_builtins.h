/* loader_builtins.h — the recipe builtins of the loader registry.
 *
 * The loader registry (data/loaders.h) is the spec of a loader's arguments.
 * kd_loader_builtins() turns each entry into the kdr_builtin lang/ checks
 * recipes with (context KDR_CTX_LOADER; kinds, required, defaults, lower
 * bounds, symbol sets; a call argument takes KDR_CTX_NOISE builtins), so
 * that lang/ needs no second list of loader arguments: the start-up
 * registration of builtins (runtime/op_builtins.c, kdr_builtins_register)
 * appends these to the op registry's entries.
 */
#ifndef KD_LOADER_BUILTINS_H
#define KD_LOADER_BUILTINS_H

#include <stddef.h>
#include "../lang/builtins.h"

/* Fill out[0..max) with one builtin per loader, in loaders.def order; the
 * argument lists live in static storage (built on the first call).
 * Returns the number of loaders (more than max: only max were written). */
size_t kd_loader_builtins(kdr_builtin *out, size_t max);

#endif
