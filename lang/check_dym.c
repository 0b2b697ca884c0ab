/* check_dym.c — "did you mean" for --set keys and for names written the
 * PyTorch way (lang/dym.h), in the checker's messages. */
#include <stdio.h>
#include <string.h>

#include "check_int.h"
#include "dym.h"

/* a name the PyTorch way: "; did you mean 'T'?" (ctx: dym.h), else "" */
const char *ck_dym_alias(const char *name, int ctx, char *buf, size_t n)
{
    const char *to = kdr_dym_alias(name, ctx);
    if (n) buf[0] = 0;
    if (to) snprintf(buf, n, "; did you mean '%s'?", to);
    return buf;
}

/* the key of `--set KEY=V` that matched nothing: the closest let, sweep or
 * phase setting (epochs, batch, seed), or its kdrun spelling */
const char *ck_dym_set_key(chk *c, const char *key, char *buf, size_t n)
{
    if (n) buf[0] = 0;
    const char *last = strrchr(key, '.');
    const char *word = last ? last + 1 : key;
    const char *to = kdr_dym_alias(word, 's');
    if (to && kdr_setting_lookup(to, KDR_BLK_PHASE) != KDR_S_NONE) {
        snprintf(buf, n, "; did you mean '%.*s%s'?", (int)(word - key), key, to);
        return buf;
    }
    const char *cands[512];
    size_t nc = 0;
    static const kdr_setting phase_settings[] = { KDR_S_EPOCHS, KDR_S_BATCH, KDR_S_SEED };
    if (strncmp(key, "data.", 5) == 0) cands[nc++] = kdr_setting_info_of(KDR_S_LIMIT)->name;
    else
        for (size_t i = 0; i < 3; i++) cands[nc++] = kdr_setting_info_of(phase_settings[i])->name;
    if (!last)
        for (size_t i = 0; i < c->nsyms && nc < 512; i++)
            if (c->syms[i].k == S_LET || c->syms[i].k == S_SWEEP) cands[nc++] = c->syms[i].name;
    char tmp[128];
    kdr_dym(word, cands, nc, tmp, sizeof tmp);
    if (!tmp[0]) {
        /* a let or a phase/data name written without its prefix */
        if (!last && (ck_find_sym_kind(c, key, S_PHASE) || ck_find_sym_kind(c, key, S_DATA)))
            snprintf(buf, n, "; '%s' is a %s: write %s.%s.SETTING", key,
                     ck_find_sym_kind(c, key, S_PHASE) ? "phase" : "data set",
                     ck_find_sym_kind(c, key, S_PHASE) ? "phase" : "data", key);
        return buf;
    }
    const char *q = strchr(tmp, '\'');
    const char *e = q ? strchr(q + 1, '\'') : NULL;
    if (q && e) snprintf(buf, n, "; did you mean '%.*s%.*s'?", (int)(word - key), key, (int)(e - q - 1), q + 1);
    return buf;
}
