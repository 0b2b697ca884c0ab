/* builtins.c — the table of builtins of the .kdr language.
 *
 * HOW TO READ AN ENTRY
 *
 *   B(name, context, flags, "doc", ARGS...)
 *
 *   T(x)            required tensor argument x
 *   REQ(x, kind)    required argument of another kind
 *   OPT(x, kind, "default")   optional argument with its default
 *   ...GE(v) / GT(v) / IN(a, b) / UNIT   range of a number: >= v, > v, a..b, [0, 1)
 *   SYM(x, "a|b", "a")        a bare word from a set, with its default
 *
 * Positional arguments bind to parameters in order; named arguments bind by
 * name (`conv(in, 32, k: 3, stride: 2)`).  Ops flagged TIN take the input
 * tensor as their first positional argument; inside `choice(...)` it is left
 * out (`choice(dconv(k: 3, d: 2), maxpool(3), skip, zero)`).  BARE entries
 * may be written without parentheses; AT_K metrics take `@k` (`hr@10`).
 *
 * Integers are numbers whose value is integral (INT).  All ranges are checked
 * by `kdrun --check` when the value is a literal or a `let` constant.
 */
#include <stdlib.h>
#include <string.h>
#include "builtins.h"

#define END             { .name = NULL }
#define T(n)            { .name = n, .kind = KDR_A_TENSOR, .req = 1 }
#define TS(n)           { .name = n, .kind = KDR_A_TENSORS, .req = 1 }
#define REQ(n, k, ...)  { .name = n, .kind = k, .req = 1, __VA_ARGS__ }
#define OPT(n, k, d, ...) { .name = n, .kind = k, .def = d, __VA_ARGS__ }
#define SYM(n, s, d)    { .name = n, .kind = KDR_A_SYM, .syms = s, .def = d, .req = (d) == NULL }
#define GE(v)           .range = KDR_R_LO, .lo = (v)
#define GT(v)           .range = KDR_R_LO | KDR_R_LO_OPEN, .lo = (v)
#define IN(a, b)        .range = KDR_R_LO | KDR_R_HI, .lo = (a), .hi = (b)
#define UNIT            .range = KDR_R_LO | KDR_R_HI | KDR_R_HI_OPEN, .lo = 0, .hi = 1
#define CALLS(c)        .ctx = (c)

#define B(nm, cx, fl, dc, ...) \
    { .name = nm, .ctx = cx, .flags = fl, .doc = dc, \
      .args = (const kdr_argspec[]){ __VA_ARGS__ } }

#define NET    KDR_CTX_NET
#define SHAPE  KDR_CTX_SHAPE
#define LOSS   KDR_CTX_LOSS
#define METRIC KDR_CTX_METRIC
#define AUG    KDR_CTX_AUG
#define NOISE  KDR_CTX_NOISE
#define OPTIM  KDR_CTX_OPTIM
#define LR     KDR_CTX_LR
#define WEIGHT KDR_CTX_WEIGHT
#define POOL   KDR_CTX_POOL
#define SEARCH KDR_CTX_SEARCH
#define FOLLOW KDR_CTX_FOLLOWS
#define VALUE  KDR_CTX_VALUE
#define TIN    KDR_B_TENSOR_IN
#define BARE   KDR_B_BARE
#define ATK    KDR_B_AT_K

static const kdr_builtin table[] = {
    /* ---- net ops that are not ops of ops/ (the ops come from the registry) */
    B("skip", NET, TIN | BARE, "identity (a candidate of choice)", T("in"), END),

    /* ---- search constructs (aggregate comes from the registry) ---------- */
    B("choice", SEARCH, 0, "mixed op: Gumbel-softmax weighted candidates, one kept after derive",
      { .name = "candidates", .kind = KDR_A_ANY, .req = 1, .rest = 1 },
      OPT("tau", KDR_A_NUM, "1", GT(0)), OPT("cost", KDR_A_LIST, "(params of each candidate)"), END),

    /* ---- shape queries (numbers) ------------------------------------- */
    B("channels", SHAPE, 0, "number of channels of a tensor", T("t"), END),
    B("height", SHAPE, 0, "height of an image tensor", T("t"), END),
    B("width", SHAPE, 0, "width of an image tensor", T("t"), END),
    B("length", SHAPE, 0, "number of time steps of a sequence tensor", T("t"), END),

    /* ---- arithmetic on numbers (hyperparameters, channel counts) ------- */
    B("min", KDR_CTX_MATH, 0, "the smaller of two numbers", REQ("a", KDR_A_NUM), REQ("b", KDR_A_NUM), END),
    B("max", KDR_CTX_MATH, 0, "the larger of two numbers", REQ("a", KDR_A_NUM), REQ("b", KDR_A_NUM), END),
    B("round", KDR_CTX_MATH, 0, "nearest integer (halves away from zero)", REQ("x", KDR_A_NUM), END),
    B("floor", KDR_CTX_MATH, 0, "largest integer <= x", REQ("x", KDR_A_NUM), END),
    B("ceil", KDR_CTX_MATH, 0, "smallest integer >= x", REQ("x", KDR_A_NUM), END),
    B("abs", KDR_CTX_MATH, 0, "absolute value of a number", REQ("x", KDR_A_NUM), END),

    /* ---- losses that are not one op (the ops come from the registry) ---- */
    B("cost", LOSS, 0, "expected size of a searched model under its architecture weights",
      REQ("model", KDR_A_MODEL), SYM("target", "params|macs", "params"), END),

    /* ---- metrics (in `evaluate ... : m, ...`) ------------------------- */
    B("top1", METRIC, BARE, "top-1 accuracy, %", END),
    B("top5", METRIC, BARE, "top-5 accuracy, %", END),
    B("psnr", METRIC, BARE, "peak signal-to-noise ratio against clean, dB", END),
    B("ssim", METRIC, BARE, "structural similarity against clean", END),
    B("psnr_srgb", METRIC, BARE, "psnr after processing RAW output and clean back to sRGB, dB", END),
    B("ssim_srgb", METRIC, BARE, "ssim after processing RAW output and clean back to sRGB", END),
    B("hr", METRIC, BARE | ATK, "hit rate @k: target ranked in the top k", END),
    B("ndcg", METRIC, BARE | ATK, "normalized discounted cumulative gain @k", END),
    B("mrr", METRIC, BARE | ATK, "mean reciprocal rank, cut at k", END),
    B("params", METRIC, BARE, "number of parameters", END),
    B("macs", METRIC, BARE, "multiply-accumulates per sample", END),

    /* ---- data loaders: from the loader registry (data/loaders.def),
     * registered at start-up by runtime/op_builtins.c --------------- */

    /* ---- noise models ------------------------------------------------ */
    B("poisson_gauss", NOISE, 0, "shot/read noise, log shot level uniform in log_shot, read level tied to it",
      REQ("log_shot", KDR_A_LIST), END),

    /* ---- augmentations ----------------------------------------------- */
    B("crop", AUG, 0, "random size x size crop after zero padding by pad",
      REQ("size", KDR_A_INT, GE(1)), OPT("pad", KDR_A_INT, "0", GE(0)), END),
    B("flip", AUG, 0, "random flip with probability 1/2",
      SYM("dir", "horizontal|vertical", "horizontal"), END),
    B("normalize", AUG, 0, "subtract mean and divide by std (numbers or per-channel lists)",
      REQ("mean", KDR_A_ANY), REQ("std", KDR_A_ANY), END),

    /* ---- optimizers -------------------------------------------------- */
    B("sgd", OPTIM, 0, "stochastic gradient descent with momentum",
      REQ("lr", KDR_A_NUM, GT(0)), OPT("momentum", KDR_A_NUM, "0", UNIT),
      OPT("weight_decay", KDR_A_NUM, "0", GE(0)), OPT("nesterov", KDR_A_BOOL, "false"), END),
    B("adam", OPTIM, 0, "Adam (L2 weight decay added to the gradient)",
      OPT("lr", KDR_A_NUM, "1e-3", GT(0)), OPT("betas", KDR_A_LIST, "[0.9, 0.999]", UNIT),
      OPT("eps", KDR_A_NUM, "1e-8", GT(0)), OPT("weight_decay", KDR_A_NUM, "0", GE(0)), END),
    B("adamw", OPTIM, 0, "Adam with decoupled weight decay",
      OPT("lr", KDR_A_NUM, "1e-3", GT(0)), OPT("betas", KDR_A_LIST, "[0.9, 0.999]", UNIT),
      OPT("eps", KDR_A_NUM, "1e-8", GT(0)), OPT("weight_decay", KDR_A_NUM, "0.01", GE(0)), END),

    /* ---- learning-rate schedules (factor on the optimizer's lr, per epoch) */
    B("constant", LR, 0, "keep the learning rate", END),
    B("step", LR, 0, "multiply by gamma at each milestone epoch",
      REQ("milestones", KDR_A_LIST), OPT("gamma", KDR_A_NUM, "0.1", GT(0)), END),
    B("multistep", LR, 0, "same as step", REQ("milestones", KDR_A_LIST),
      OPT("gamma", KDR_A_NUM, "0.1", GT(0)), END),
    B("cosine", LR, 0, "cosine annealing from lr to min_lr over the phase's epochs",
      OPT("min_lr", KDR_A_NUM, "0", GE(0)), END),
    B("warmup", LR, 0, "linear warm-up over the first epochs, then another schedule",
      REQ("epochs", KDR_A_INT, GE(0)), OPT("then", KDR_A_CALL, "constant()", CALLS(LR)), END),
    B("exponential", LR, 0, "multiply by gamma every epoch",
      REQ("gamma", KDR_A_NUM, GT(0)), END),

    /* ---- weight schedules (factors in a loss) ------------------------ */
    B("ramp", WEIGHT, 0, "linear from `from` to `to` over the first epochs, then `to`",
      REQ("from", KDR_A_NUM), REQ("to", KDR_A_NUM), REQ("epochs", KDR_A_INT, GE(1)), END),
    B("until", WEIGHT, 0, "1 during the first `epoch` epochs of the phase, 0 after (ESKD: stop the KD term early)",
      REQ("epoch", KDR_A_INT, GE(0)), END),
    B("decay", WEIGHT, 0, "start * factor^floor(epoch / every), e.g. a Gumbel temperature (choice tau:)",
      REQ("start", KDR_A_NUM, GT(0)), REQ("factor", KDR_A_NUM, GT(0)),
      REQ("every", KDR_A_INT, GE(1)), END),

    /* ---- teacher pools ----------------------------------------------- */
    B("checkpoints", POOL, 0, "teachers from a checkpoint route: all, every N epochs, or the listed epochs",
      REQ("route", KDR_A_ROUTE), OPT("every", KDR_A_INT, "(every checkpoint)", GE(1)),
      OPT("epochs", KDR_A_LIST, "(every checkpoint)"), END),
    B("follows", FOLLOW, 0, "`teacher follows POOL(...)`: anchor schedule of a pool (RCO)",
      SYM("strategy", "equal|greedy", "equal"), OPT("threshold", KDR_A_NUM, "0", GE(0)),
      OPT("patience", KDR_A_INT, "1", GE(1)), END),

    /* ---- predefined names -------------------------------------------- */
    B("label", VALUE, KDR_B_VALUE, "the integer class labels of the batch", END),
    B("noisy", VALUE, KDR_B_VALUE, "the noisy input of a denoising batch (also the net input)", END),
    B("index", VALUE, KDR_B_VALUE, "each row's index in the training split (crd's memory banks)", END),
    B("clean", VALUE, KDR_B_VALUE, "the clean target of a denoising batch", END),
    B("target", VALUE, KDR_B_VALUE, "the next item of each sequence (sequences loader)", END),
    B("items", VALUE, KDR_B_VALUE, "the item ids of each sequence (sequences loader)", END),
};

/* The table in use: the static entries above merged with the registered
 * ones (kdr_builtins_register), ordered by context as `order` lists them,
 * registered entries first within a context. */
static kdr_builtin *merged;
static size_t nmerged;

static const unsigned order[] = {
    KDR_CTX_NET, KDR_CTX_SEARCH, KDR_CTX_SHAPE, KDR_CTX_MATH, KDR_CTX_LOSS, KDR_CTX_METRIC,
    KDR_CTX_LOADER, KDR_CTX_NOISE, KDR_CTX_AUG, KDR_CTX_OPTIM, KDR_CTX_LR, KDR_CTX_WEIGHT,
    KDR_CTX_POOL, KDR_CTX_FOLLOWS, KDR_CTX_VALUE
};

int kdr_builtins_register(const kdr_builtin *extra, size_t n)
{
    size_t ns = sizeof table / sizeof table[0];
    kdr_builtin *m = malloc((ns + n) * sizeof *m);
    if (!m)
        return -1;
    size_t k = 0;
    for (size_t c = 0; c < sizeof order / sizeof order[0]; c++) {
        for (size_t i = 0; i < n; i++)
            if (extra[i].ctx == order[c])
                m[k++] = extra[i];
        for (size_t i = 0; i < ns; i++)
            if (table[i].ctx == order[c])
                m[k++] = table[i];
    }
    free(merged);
    merged = m;
    nmerged = k;
    return 0;
}

const kdr_builtin *kdr_builtins(size_t *n)
{
    if (n)
        *n = merged ? nmerged : sizeof table / sizeof table[0];
    return merged ? merged : table;
}

const kdr_builtin *kdr_builtin_find(const char *name, unsigned ctx_mask)
{
    if (!name)
        return NULL;
    size_t n;
    const kdr_builtin *t = kdr_builtins(&n);
    for (size_t i = 0; i < n; i++)
        if ((t[i].ctx & ctx_mask) && strcmp(t[i].name, name) == 0)
            return &t[i];
    return NULL;
}

size_t kdr_builtin_nargs(const kdr_builtin *b)
{
    size_t n = 0;
    while (b && b->args[n].name)
        n++;
    return n;
}

const char *kdr_ctx_name(unsigned ctx)
{
    switch (ctx) {
    case KDR_CTX_NET: return "net op";
    case KDR_CTX_SHAPE: return "shape query";
    case KDR_CTX_LOSS: return "loss";
    case KDR_CTX_METRIC: return "metric";
    case KDR_CTX_LOADER: return "data loader";
    case KDR_CTX_AUG: return "augmentation";
    case KDR_CTX_NOISE: return "noise model";
    case KDR_CTX_OPTIM: return "optimizer";
    case KDR_CTX_LR: return "learning-rate schedule";
    case KDR_CTX_WEIGHT: return "weight schedule";
    case KDR_CTX_POOL: return "pool constructor";
    case KDR_CTX_SEARCH: return "search construct";
    case KDR_CTX_FOLLOWS: return "teacher-follows option set";
    case KDR_CTX_VALUE: return "predefined name";
    case KDR_CTX_MATH: return "number function";
    }
    return "";
}

int kdr_sym_in(const char *syms, const char *word)
{
    if (!syms || !word)
        return 0;
    size_t n = strlen(word);
    const char *p = syms;
    for (;;) {
        const char *e = strchr(p, '|');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && memcmp(p, word, n) == 0)
            return 1;
        if (!e)
            return 0;
        p = e + 1;
    }
}
