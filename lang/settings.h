/* settings.h — the statement words of data, phase, search and report blocks.
 *
 * A block statement led by a statement word (`epochs 30`, `train s on d`,
 * `checkpoint every 5 epochs as r`, ...) is a KDR_SETTING node; the parser
 * stores which one in kdr_node.setting (a kdr_setting) and keeps the word
 * in kdr_node.word only for messages.  Everything that asks "which setting
 * is this" switches on the enum; everything that asks "where may it be
 * written, what does it hold, what is its default" reads the one table,
 * kdr_setting_info_of().  Nothing outside this table compares a setting's
 * word with a string.
 */
#ifndef KDR_SETTINGS_H
#define KDR_SETTINGS_H

typedef enum kdr_setting {
    KDR_S_NONE = 0,      /* not a setting (a node that is not KDR_SETTING) */
    /* data blocks */
    KDR_S_SPLIT_TRAIN,   /* train "path" [holdout N as NAME] */
    KDR_S_SPLIT_TEST,    /* test "path" */
    KDR_S_SPLIT_VAL,     /* val "path" */
    KDR_S_AUGMENT,       /* augment SPLIT: aug(...), ... */
    KDR_S_NORMALIZE,     /* normalize mean: .., std: .. */
    KDR_S_LIMIT,         /* limit N */
    /* phases */
    KDR_S_TRAIN,         /* train MODEL, ... [together] on DATA */
    KDR_S_TEACHER,       /* teacher M [frozen] | teacher M at epoch E | teacher follows POOL(...) */
    KDR_S_EPOCHS,        /* epochs N */
    KDR_S_BATCH,         /* batch N */
    KDR_S_SEED,          /* seed N */
    KDR_S_OPTIMIZER,     /* optimizer [GROUP:] call */
    KDR_S_LR,            /* lr [GROUP:] call */
    KDR_S_LOSS,          /* loss [MODEL:] expr */
    KDR_S_CHECKPOINT,    /* checkpoint every N [unit] [keep ...] [as ROUTE] */
    KDR_S_AFTER,         /* after PHASE, ... */
    KDR_S_ALTERNATE,     /* alternate { steps } */
    KDR_S_DERIVE,        /* derive SEARCH | MODEL */
    KDR_S_EVALUATE,      /* evaluate MODEL, ... on DATA [: metrics]  (also in reports) */
    /* inside `alternate` */
    KDR_S_MINIMIZE,      /* GROUP, ... minimize expr [on DATA] */
    /* reports */
    KDR_S_TABLE,         /* table [rows X [cols Y]]: values */
    /* search blocks */
    KDR_S_BRIDGE,        /* bridge NAME = expr */
    KDR_S_COUNT
} kdr_setting;

/* Blocks a setting may be written in (kdr_setting_info.blocks). */
enum {
    KDR_BLK_DATA = 1,
    KDR_BLK_PHASE = 2,
    KDR_BLK_REPORT = 4,
    KDR_BLK_SEARCH = 8,
    KDR_BLK_ALTERNATE = 16
};

/* What a setting holds (kdr_setting_info.value). */
typedef enum kdr_setting_value {
    KDR_SV_INT,          /* a constant whole number in [min, max] (a = the value) */
    KDR_SV_STR,          /* a "string" (a = KDR_STR) */
    KDR_SV_MODELS_ON,    /* model names (kids) and a data set (a) */
    KDR_SV_MODEL,        /* a model or pool name (a), see ast.h for its forms */
    KDR_SV_CALL,         /* a builtin call of one context (a): optimizer, schedule */
    KDR_SV_EXPR,         /* an expression (a): a loss, an objective, a bridged tensor */
    KDR_SV_AUGS,         /* augmentation calls (kids) */
    KDR_SV_ARGS,         /* named arguments (kids) */
    KDR_SV_NAMES,        /* names (kids): phases */
    KDR_SV_STEPS,        /* nested settings (kids): minimize steps */
    KDR_SV_SEARCH,       /* a search or model name (a) */
    KDR_SV_EVAL,         /* models (kids), data (a), metrics (b) */
    KDR_SV_TABLE         /* rows/cols sweeps and values (kids) */
} kdr_setting_value;

typedef struct kdr_setting_info {
    kdr_setting id;
    const char *name;        /* the statement word */
    unsigned blocks;         /* KDR_BLK_* where it is allowed */
    kdr_setting_value value; /* what it holds */
    double min, max;         /* KDR_SV_INT: allowed range */
    const char *range_word;  /* KDR_SV_INT: "positive", "non-negative" (for messages) */
    int once;                /* 1: at most once per block */
    const char *def;         /* its default as recipe text, or NULL (none / required) */
    const char *doc;         /* one line */
} kdr_setting_info;

/* The table entry of a setting (KDR_S_NONE and out-of-range ids: NULL). */
const kdr_setting_info *kdr_setting_info_of(kdr_setting s);
/* The settings a word names, for the block kinds in `blocks` (the first
 * match; "train" is KDR_S_TRAIN in a phase and KDR_S_SPLIT_TRAIN in a data
 * block).  KDR_S_NONE when none. */
kdr_setting kdr_setting_lookup(const char *word, unsigned blocks);
/* "a data block", "a phase or a report", ... : where a setting belongs. */
const char *kdr_setting_where(kdr_setting s);

#endif
