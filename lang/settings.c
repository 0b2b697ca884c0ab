/* settings.c — the one table of statement words (see settings.h).
 *
 * The defaults are the ones a run applies when a recipe leaves a setting
 * out: runtime/run_plan.c reads them from this table (it has no numbers of
 * its own), `kdrun --check` prints them where they are used, and kdr(5)'s
 * DEFAULTS section lists them (tests/lang/test_check.c holds the two
 * together).  They are written as recipe text.
 */
#include <string.h>
#include "settings.h"

#define ANY_INT 1e12   /* the largest whole number a setting may hold */
#define MAX_BATCH 1048576.0   /* 2^20 samples a step: past any memory the runtime could get */

static const kdr_setting_info table[KDR_S_COUNT] = {
    [KDR_S_SPLIT_TRAIN] = { KDR_S_SPLIT_TRAIN, "train", KDR_BLK_DATA, KDR_SV_STR, 0, 0, NULL, 0, NULL,
                            "the training split's files, optionally holding out N samples as a named split" },
    [KDR_S_SPLIT_TEST] = { KDR_S_SPLIT_TEST, "test", KDR_BLK_DATA, KDR_SV_STR, 0, 0, NULL, 0, NULL,
                           "the test split's files" },
    [KDR_S_SPLIT_VAL] = { KDR_S_SPLIT_VAL, "val", KDR_BLK_DATA, KDR_SV_STR, 0, 0, NULL, 0, NULL,
                          "the validation split's files" },
    [KDR_S_AUGMENT] = { KDR_S_AUGMENT, "augment", KDR_BLK_DATA, KDR_SV_AUGS, 0, 0, NULL, 0, NULL,
                        "augmentations applied to one split while training" },
    [KDR_S_NORMALIZE] = { KDR_S_NORMALIZE, "normalize", KDR_BLK_DATA, KDR_SV_ARGS, 0, 0, NULL, 1, NULL,
                          "subtract mean and divide by std (no normalization without it)" },
    [KDR_S_LIMIT] = { KDR_S_LIMIT, "limit", KDR_BLK_DATA, KDR_SV_INT, 1, ANY_INT, "positive", 1, NULL,
                      "use only the first N training samples (all without it)" },
    [KDR_S_TRAIN] = { KDR_S_TRAIN, "train", KDR_BLK_PHASE, KDR_SV_MODELS_ON, 0, 0, NULL, 0, NULL,
                      "the models a phase trains and the data it trains them on" },
    [KDR_S_TEACHER] = { KDR_S_TEACHER, "teacher", KDR_BLK_PHASE, KDR_SV_MODEL, 0, 0, NULL, 0, NULL,
                        "a frozen teacher, an early-stopped one, or a pool followed anchor by anchor" },
    [KDR_S_EPOCHS] = { KDR_S_EPOCHS, "epochs", KDR_BLK_PHASE, KDR_SV_INT, 1, ANY_INT, "positive", 1, "1",
                       "passes over the training data" },
    [KDR_S_BATCH] = { KDR_S_BATCH, "batch", KDR_BLK_PHASE, KDR_SV_INT, 1, MAX_BATCH, "positive", 1, "128",
                      "samples per training step" },
    [KDR_S_SEED] = { KDR_S_SEED, "seed", KDR_BLK_PHASE, KDR_SV_INT, 0, ANY_INT, "non-negative", 1, "1",
                     "random seed (without it: --seed, else the recipe's sweep or let named seed, else 1)" },
    [KDR_S_OPTIMIZER] = { KDR_S_OPTIMIZER, "optimizer", KDR_BLK_PHASE, KDR_SV_CALL, 0, 0, NULL, 0,
                          "sgd(lr: 0.1, momentum: 0.9)", "the optimizer of the trained models (or of one group)" },
    [KDR_S_LR] = { KDR_S_LR, "lr", KDR_BLK_PHASE, KDR_SV_CALL, 0, 0, NULL, 0, "constant()",
                   "the learning-rate schedule (the optimizer's lr is its start)" },
    [KDR_S_LOSS] = { KDR_S_LOSS, "loss", KDR_BLK_PHASE, KDR_SV_EXPR, 0, 0, NULL, 0, NULL,
                     "the objective (required), or one per model trained together" },
    [KDR_S_CHECKPOINT] = { KDR_S_CHECKPOINT, "checkpoint", KDR_BLK_PHASE, KDR_SV_INT, 1, ANY_INT, "positive", 0,
                           NULL, "save checkpoints every N epochs or steps, optionally as a named route" },
    [KDR_S_AFTER] = { KDR_S_AFTER, "after", KDR_BLK_PHASE, KDR_SV_NAMES, 0, 0, NULL, 0, NULL,
                      "run after these phases (usually inferred)" },
    [KDR_S_ALTERNATE] = { KDR_S_ALTERNATE, "alternate", KDR_BLK_PHASE, KDR_SV_STEPS, 0, 0, NULL, 0, NULL,
                          "alternating updates of parameter groups, each on its objective" },
    [KDR_S_DERIVE] = { KDR_S_DERIVE, "derive", KDR_BLK_PHASE, KDR_SV_SEARCH, 0, 0, NULL, 1, NULL,
                       "make a search's (or a model's) architecture discrete before the phase" },
    [KDR_S_EVALUATE] = { KDR_S_EVALUATE, "evaluate", KDR_BLK_PHASE | KDR_BLK_REPORT, KDR_SV_EVAL, 0, 0, NULL, 0,
                         NULL, "measure models on a split (after each epoch in a phase)" },
    [KDR_S_MINIMIZE] = { KDR_S_MINIMIZE, "minimize", KDR_BLK_ALTERNATE, KDR_SV_EXPR, 0, 0, NULL, 0, NULL,
                         "one step of 'alternate': groups and their objective" },
    [KDR_S_TABLE] = { KDR_S_TABLE, "table", KDR_BLK_REPORT, KDR_SV_TABLE, 0, 0, NULL, 0, NULL,
                      "a table of metrics over the sweeps" },
    [KDR_S_BRIDGE] = { KDR_S_BRIDGE, "bridge", KDR_BLK_SEARCH, KDR_SV_EXPR, 0, 0, NULL, 0, NULL,
                       "a named tensor of a search, computed from the models" },
};

const kdr_setting_info *kdr_setting_info_of(kdr_setting s)
{
    if (s <= KDR_S_NONE || s >= KDR_S_COUNT)
        return NULL;
    return &table[s];
}

kdr_setting kdr_setting_lookup(const char *word, unsigned blocks)
{
    if (!word)
        return KDR_S_NONE;
    for (int i = KDR_S_NONE + 1; i < KDR_S_COUNT; i++)
        if ((table[i].blocks & blocks) && strcmp(table[i].name, word) == 0)
            return (kdr_setting)i;
    return KDR_S_NONE;
}

const char *kdr_setting_where(kdr_setting s)
{
    const kdr_setting_info *i = kdr_setting_info_of(s);
    if (!i)
        return "another block";
    switch (i->blocks) {
    case KDR_BLK_DATA: return "a data block";
    case KDR_BLK_PHASE: return "a phase";
    case KDR_BLK_PHASE | KDR_BLK_REPORT: return "a phase or a report";
    case KDR_BLK_REPORT: return "a report";
    case KDR_BLK_SEARCH: return "a search block";
    case KDR_BLK_ALTERNATE: return "an 'alternate' block of a phase";
    default: return "another block";
    }
}
