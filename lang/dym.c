/* dym.c — "did you mean" outside the checker's scopes (dym.h). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "dym.h"

static int dist(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return 99;
    int d[66][66];
    for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + (ca != cb) < v) v = d[i - 1][j - 1] + (ca != cb);
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[la][lb];
}

const char *kdr_dym(const char *want, const char *const *cands, size_t n, char *buf, size_t len)
{
    const char *best = NULL;
    int bd = 3, wl = (int)strlen(want);
    for (size_t i = 0; i < n; i++) {
        if (!cands[i] || strcmp(cands[i], want) == 0) continue;
        int dd = dist(want, cands[i]);
        if (dd < bd && dd < wl) { best = cands[i]; bd = dd; }
    }
    if (len) buf[0] = 0;
    if (best) snprintf(buf, len, "; did you mean '%.64s'?", best);
    return buf;
}

/* PyTorch / torchdistill / mdistiller spellings (compared without case) */
static const struct { char ctx; const char *from, *to; } aliases[] = {
    { 'f', "cross_entropy", "ce" }, { 'f', "crossentropyloss", "ce" }, { 'f', "crossentropy", "ce" },
    { 'f', "nll_loss", "ce" }, { 'f', "kl_div", "kl" }, { 'f', "kldivloss", "kl" },
    { 'f', "kd_loss", "kd" }, { 'f', "kdloss", "kd" }, { 'f', "distillation_loss", "kd" },
    { 'f', "mse_loss", "mse" }, { 'f', "mseloss", "mse" }, { 'f', "l1_loss", "l1" },
    { 'f', "l1loss", "l1" }, { 'f', "smooth_l1_loss", "smooth_l1" }, { 'f', "smoothl1loss", "smooth_l1" },
    { 'f', "binary_cross_entropy_with_logits", "bce_with_logits" },
    { 'f', "bcewithlogitsloss", "bce_with_logits" }, { 'f', "cosine_similarity", "cosine" },
    { 'f', "conv2d", "conv" }, { 'f', "batchnorm2d", "bn" }, { 'f', "batch_norm", "bn" },
    { 'f', "batchnorm", "bn" }, { 'f', "max_pool2d", "maxpool" }, { 'f', "maxpool2d", "maxpool" },
    { 'f', "avg_pool2d", "avgpool" }, { 'f', "avgpool2d", "avgpool" },
    { 'f', "adaptive_avg_pool2d", "mean(x, over: hw)" }, { 'f', "adaptiveavgpool2d", "mean(x, over: hw)" },
    { 'f', "at_loss", "attention" }, { 'f', "attention_transfer", "attention" },
    { 'f', "multisteplr", "step" }, { 'f', "multistep", "step" }, { 'f', "steplr", "step" },
    { 'f', "cosineannealinglr", "cosine" },
    { 'a', "temperature", "T" }, { 'a', "tau", "T" }, { 'a', "temp", "T" },
    { 'a', "kernel_size", "k" }, { 'a', "padding", "pad" }, { 'a', "num_classes", "classes" },
    { 'a', "in_channels", "(from the input)" }, { 'a', "out_channels", "the second positional argument" },
    { 'a', "weight_decay_rate", "weight_decay" }, { 'a', "wd", "weight_decay" },
    { 'a', "learning_rate", "lr" }, { 'a', "decay", "gamma" },
    { 's', "epoch", "epochs" }, { 's', "num_epochs", "epochs" }, { 's', "max_epochs", "epochs" },
    { 's', "batch_size", "batch" }, { 's', "bs", "batch" }, { 's', "random_seed", "seed" },
    { 's', "learning_rate", "lr" }, { 's', "optim", "optimizer" }, { 's', "opt", "optimizer" },
    { 's', "scheduler", "lr" }, { 's', "lr_scheduler", "lr" },
};

const char *kdr_dym_alias(const char *want, int ctx)
{
    if (!want) return NULL;
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
        if (aliases[i].ctx != ctx) continue;
        const char *a = aliases[i].from, *w = want;
        while (*a && *w && tolower((unsigned char)*a) == tolower((unsigned char)*w)) a++, w++;
        if (!*a && !*w) return aliases[i].to;
    }
    return NULL;
}
