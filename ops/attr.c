/* attr.c — attribute parsing/validation and shape helpers for the op
 * interface (kd_op.h). */
#include "kd_ops_util.h"

int kd_attr_count(const kd_op_def *d)
{
    int n = 0;
    if (d->attrs)
        while (d->attrs[n].name) n++;
    return n;
}

int kd_attr_index(const kd_op_def *d, const char *name)
{
    for (int i = 0; d->attrs && d->attrs[i].name; i++)
        if (strcmp(d->attrs[i].name, name) == 0) return i;
    return -1;
}

void kd_attrs_default(const kd_op_def *d, kd_attr_val *v)
{
    int n = kd_attr_count(d);
    for (int i = 0; i < n; i++) {
        const kd_attr_spec *s = &d->attrs[i];
        memset(&v[i], 0, sizeof v[i]);
        v[i].num = s->def;
        v[i].nints = s->def_nints;
        for (int j = 0; j < s->def_nints; j++) v[i].ints[j] = s->def_ints[j];
    }
}

static int range_err(const kd_op_def *d, const kd_attr_spec *s, double x,
                     char *err, size_t n)
{
    return kd_err(err, n, "%s: %s must be in [%g, %g], got %g", d->name, s->name,
                  s->min, s->max, x);
}

int kd_attr_set_num(const kd_op_def *d, kd_attr_val *v, int idx, double x,
                    char *err, size_t errlen)
{
    const kd_attr_spec *s = &d->attrs[idx];
    switch (s->type) {
    case KD_ATTR_BOOL:
        if (x != 0 && x != 1)
            return kd_err(err, errlen, "%s: %s is a boolean, got %g", d->name, s->name, x);
        break;
    case KD_ATTR_INT:
        if (x != floor(x) || !isfinite(x))
            return kd_err(err, errlen, "%s: %s must be an integer, got %g", d->name, s->name, x);
        /* fall through */
    case KD_ATTR_FLOAT:
        if (!(x >= s->min && x <= s->max)) return range_err(d, s, x, err, errlen);
        break;
    case KD_ATTR_ENUM:
        return kd_err(err, errlen, "%s: %s takes a name, not a number", d->name, s->name);
    case KD_ATTR_INTS:
        return kd_attr_set_ints(d, v, idx, (int64_t[]){(int64_t)x}, 1, err, errlen);
    }
    v[idx].num = x;
    return 0;
}

int kd_attr_set_enum(const kd_op_def *d, kd_attr_val *v, int idx,
                     const char *name, char *err, size_t errlen)
{
    const kd_attr_spec *s = &d->attrs[idx];
    if (s->type != KD_ATTR_ENUM)
        return kd_err(err, errlen, "%s: %s takes a number, not a name", d->name, s->name);
    for (int i = 0; s->enums[i]; i++)
        if (strcmp(s->enums[i], name) == 0) {
            v[idx].num = i;
            return 0;
        }
    char list[256] = "";
    for (int i = 0; s->enums[i]; i++) {
        if (i) strncat(list, ", ", sizeof list - strlen(list) - 1);
        strncat(list, s->enums[i], sizeof list - strlen(list) - 1);
    }
    return kd_err(err, errlen, "%s: %s must be one of %s, got '%s'", d->name, s->name,
                  list, name);
}

int kd_attr_set_ints(const kd_op_def *d, kd_attr_val *v, int idx,
                     const int64_t *x, int n, char *err, size_t errlen)
{
    const kd_attr_spec *s = &d->attrs[idx];
    if (s->type != KD_ATTR_INTS)
        return kd_err(err, errlen, "%s: %s takes a single value, not a list", d->name, s->name);
    if (n < 1 || n > KD_MAXINTS)
        return kd_err(err, errlen, "%s: %s takes 1 to %d integers, got %d", d->name,
                      s->name, KD_MAXINTS, n);
    for (int i = 0; i < n; i++)
        if (!(x[i] >= s->min && x[i] <= s->max)) return range_err(d, s, (double)x[i], err, errlen);
    v[idx].nints = n;
    for (int i = 0; i < n; i++) v[idx].ints[i] = x[i];
    return 0;
}

int kd_op_infer(const kd_op_def *d, kd_op_ctx *c, kd_op_info *info,
                char *err, size_t errlen)
{
    int ndata = c->nin - d->nparams;
    if (ndata < d->min_inputs || ndata > d->max_inputs || c->nin > KD_MAXIN) {
        if (d->min_inputs == d->max_inputs)
            return kd_err(err, errlen, "%s takes %d input%s, got %d", d->name, d->min_inputs,
                          d->min_inputs == 1 ? "" : "s", ndata);
        return kd_err(err, errlen, "%s takes %d to %d inputs, got %d", d->name,
                      d->min_inputs, d->max_inputs, ndata);
    }
    memset(info, 0, sizeof *info);
    for (int i = ndata; i < c->nin; i++) {
        memset(&c->in_shape[i], 0, sizeof c->in_shape[i]);
        c->in_shape[i].ndim = KD_ABSENT;
    }
    return d->infer(c, info, err, errlen);
}

int64_t kd_shape_numel(const kd_shape *s)
{
    if (s->ndim < 0) return 0;
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++) n *= s->dims[i];
    return n;
}

int kd_shape_eq(const kd_shape *a, const kd_shape *b)
{
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->dims[i] != b->dims[i]) return 0;
    return 1;
}

char *kd_shape_str(const kd_shape *s, char *buf, size_t n)
{
    size_t k = 0;
    if (!n) return buf;
    buf[0] = 0;
    k += (size_t)snprintf(buf + k, n - k, "[");
    for (int i = 0; i < s->ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, i ? ", %lld" : "%lld", (long long)s->dims[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
    return buf;
}

kd_shape kd_shape_make(int ndim, const int64_t *dims)
{
    kd_shape s;
    memset(&s, 0, sizeof s);
    s.ndim = ndim;
    for (int i = 0; i < ndim && i < KD_MAXDIM; i++) s.dims[i] = dims[i];
    return s;
}

int kd_attr_index_renamed(const kd_op_def *d, const char *const *renames, const char *arg)
{
    size_t n = strlen(arg);
    for (int i = 0; renames && renames[i]; i++)
        if (strncmp(renames[i], arg, n) == 0 && renames[i][n] == '=')
            return kd_attr_index(d, renames[i] + n + 1);
    return kd_attr_index(d, arg);
}
