/* test_lexer.c — tokens and the line rules of the .kdr lexer.
 *
 * Each case tokenizes a snippet with the full token layer and compares the
 * token names (as bison names them in messages) joined by spaces; "NL" is a
 * statement end, "EOF" the end of input. */
#include <string.h>
#include "../unit.h"
#include "parse_int.h"
#include "parser.h"

static char got[4096];
static char msgs[2048];

static const char *toks(const char *src)
{
    int t[512];
    kdr_diag d;
    kdr_diag_init(&d);
    size_t n = kdr_tokenize(src, strlen(src), t, NULL, 512, &d);
    size_t o = 0;
    got[0] = 0;
    for (size_t i = 0; i < n && i < 512 && o + 40 < sizeof got; i++) {
        const char *name = t[i] == NL ? "NL" : t[i] == 0 ? "EOF" : kdr_token_text(t[i]);
        o += (size_t)snprintf(got + o, sizeof got - o, "%s%s", i ? " " : "", name);
    }
    o = 0;
    msgs[0] = 0;
    for (size_t i = 0; i < d.count && o + 200 < sizeof msgs; i++)
        o += (size_t)snprintf(msgs + o, sizeof msgs - o, "%s%s", i ? "|" : "", d.msgs[i].text);
    kdr_diag_free(&d);
    return got;
}

#define EXPECT_TOKS(src, want) do { \
        const char *g_ = toks(src); \
        if (strcmp(g_, want) != 0) \
            fprintf(stderr, "\n  source: %s\n  want:   %s\n  got:    %s\n", src, want, g_); \
        CU_ASSERT_STRING_EQUAL(g_, want); \
    } while (0)

static void test_numbers(void)
{
    EXPECT_TOKS("let x = 12", "'let' identifier '=' number NL EOF");
    EXPECT_TOKS("let x = 0.5e-4", "'let' identifier '=' number NL EOF");
    EXPECT_TOKS("let x = .5", "'let' identifier '=' number NL EOF");
    /* a range is not a decimal point */
    EXPECT_TOKS("let r = 1..3", "'let' identifier '=' number '..' number NL EOF");
    CU_ASSERT_STRING_EQUAL(msgs, "");
    toks("let x = 1e");
    CU_ASSERT_STRING_EQUAL(msgs, "malformed number '1e'");
    toks("let x = 3abc");
    CU_ASSERT_STRING_EQUAL(msgs, "malformed number '3abc'");
    toks("let x = 1e999");
    CU_ASSERT_STRING_EQUAL(msgs, "number out of range");
}

static void test_values(void)
{
    int t[8];
    kdr_loc l[8];
    kdr_diag d;
    kdr_diag_init(&d);
    const char *src = "let x = \"a\\\"b\"";
    size_t n = kdr_tokenize(src, strlen(src), t, l, 8, &d);
    CU_ASSERT_EQUAL(n, 6);
    CU_ASSERT_EQUAL(t[3], STR);
    CU_ASSERT_EQUAL(l[3].beg, 8);
    CU_ASSERT_EQUAL(l[3].end, 14);
    CU_ASSERT_EQUAL(d.count, 0);
    kdr_diag_free(&d);
}

static void test_strings(void)
{
    EXPECT_TOKS("use \"nets/resnet.kdr\"", "'use' string NL EOF");
    toks("use \"abc");
    CU_ASSERT_STRING_EQUAL(msgs, "unterminated string (a string ends on the line it starts)");
    toks("use \"a\\qb\"");
    CU_ASSERT_STRING_EQUAL(msgs, "unknown escape '\\q' in string (use \\\" \\\\ \\n \\t)");
    toks("use \"\xce\xb2\"");            /* UTF-8 is fine in strings */
    CU_ASSERT_STRING_EQUAL(msgs, "");
    toks("use \"\xff\"");
    CU_ASSERT_STRING_EQUAL(msgs, "invalid UTF-8 in string (byte 0xFF)");
}

static void test_operators(void)
{
    EXPECT_TOKS("let x = a == b != c <= d >= e < f > g",
                "'let' identifier '=' identifier '==' identifier '!=' identifier '<=' "
                "identifier '>=' identifier '<' identifier '>' identifier NL EOF");
    EXPECT_TOKS("let x = -a ^ 2 % 3 @ 4 ? 1 : 2",
                "'let' identifier '=' '-' identifier '^' number '%' number '@' number "
                "'?' number ':' number NL EOF");
    EXPECT_TOKS("let x = not a and b or c",
                "'let' identifier '=' 'not' identifier 'and' identifier 'or' identifier NL EOF");
}

static void test_comments_and_blank_lines(void)
{
    EXPECT_TOKS("# only a comment\n\n\n", "EOF");
    EXPECT_TOKS("let a = 1  # trailing\n\n# more\n\nlet b = 2\n",
                "'let' identifier '=' number NL 'let' identifier '=' number NL EOF");
    EXPECT_TOKS("let a = 1\r\nlet b = 2\r\n",
                "'let' identifier '=' number NL 'let' identifier '=' number NL EOF");
}

static void test_newline_rules(void)
{
    /* inside parentheses and brackets newlines are blanks */
    EXPECT_TOKS("let a = f(1,\n 2)\n", "'let' identifier '=' identifier '(' number ',' number ')' NL EOF");
    EXPECT_TOKS("let a = [1\n, 2\n]", "'let' identifier '=' '[' number ',' number ']' NL EOF");
    /* a line ending in an operator continues */
    EXPECT_TOKS("let a = 1 +\n 2", "'let' identifier '=' number '+' number NL EOF");
    /* a line starting with an infix operator continues the previous one */
    EXPECT_TOKS("let a = 1\n  + 2\n  * 3", "'let' identifier '=' number '+' number '*' number NL EOF");
    EXPECT_TOKS("let a = c ? 1\n : 2", "'let' identifier '=' identifier '?' number ':' number NL EOF");
    EXPECT_TOKS("let a = b\n  and c", "'let' identifier '=' identifier 'and' identifier NL EOF");
    EXPECT_TOKS("let a = b\n  .c", "'let' identifier '=' identifier '.' identifier NL EOF");
    /* ...even across a comment line */
    EXPECT_TOKS("let a = 1\n # why\n + 2", "'let' identifier '=' number '+' number NL EOF");
    /* 'andx' is an identifier, not 'and' */
    EXPECT_TOKS("let a = 1\nlet andx = 2",
                "'let' identifier '=' number NL 'let' identifier '=' number NL EOF");
    /* ';' ends a statement */
    EXPECT_TOKS("let a = 1; let b = 2", "'let' identifier '=' number NL 'let' identifier '=' number NL EOF");
}

static void test_braces(void)
{
    /* a statement end is added before '}' and 'else' on the next line continues */
    EXPECT_TOKS("phase p { epochs 3 }", "'phase' identifier '{' 'epochs' number NL '}' NL EOF");
    EXPECT_TOKS("net n() {\n if a { b = 1 }\n else { b = 2 }\n out b\n}",
                "'net' identifier '(' ')' '{' 'if' identifier '{' identifier '=' number NL '}' "
                "'else' '{' identifier '=' number NL '}' NL 'out' identifier NL '}' NL EOF");
}

static void test_statement_words(void)
{
    /* keywords at the start of a statement in a block ... */
    EXPECT_TOKS("phase p {\n train m on d.train\n epochs 3\n}",
                "'phase' identifier '{' 'train' identifier 'on' identifier '.' identifier NL "
                "'epochs' number NL '}' NL EOF");
    /* ... identifiers elsewhere, and before '=' or '[' */
    EXPECT_TOKS("net n() {\n loss = f(epochs: 3)\n train[1] = 2\n}",
                "'net' identifier '(' ')' '{' identifier '=' identifier '(' identifier ':' number ')' NL "
                "identifier '[' number ']' '=' number NL '}' NL EOF");
    /* at the top level they are plain identifiers */
    EXPECT_TOKS("sweep seed in 1..3", "'sweep' identifier 'in' number '..' number NL EOF");
    /* '==' after a statement word is not an assignment */
    EXPECT_TOKS("phase p { seed == 1 }", "'phase' identifier '{' 'seed' '==' number NL '}' NL EOF");
}

static void test_reserved_words(void)
{
    EXPECT_TOKS("use let data net model pool search phase sweep report",
                "'use' 'let' 'data' 'net' 'model' 'pool' 'search' 'phase' 'sweep' 'report' NL EOF");
    /* `at` is a word only after `teacher NAME`: a name anywhere else */
    EXPECT_TOKS("for in if else repeat from as on at out and or not true false sum",
                "'for' 'in' 'if' 'else' 'repeat' 'from' 'as' 'on' identifier 'out' 'and' 'or' 'not' "
                "'true' 'false' 'sum' NL EOF");
    EXPECT_TOKS("phase p { teacher t at epoch 3 }",
                "'phase' identifier '{' 'teacher' identifier 'at' identifier number NL '}' NL EOF");
    EXPECT_TOKS("phase at { loss at(a, b) }",
                "'phase' identifier '{' 'loss' identifier '(' identifier ',' identifier ')' NL '}' NL EOF");
    EXPECT_TOKS("every keep holdout frozen follows together minimize rows cols",
                "'every' 'keep' 'holdout' 'frozen' 'follows' 'together' 'minimize' 'rows' 'cols' NL EOF");
}

static void test_bad_bytes(void)
{
    toks("let x = 1 $ 2");
    CU_ASSERT_STRING_EQUAL(msgs, "unexpected character '$'");
    toks("let x = a ! b");
    CU_ASSERT_STRING_EQUAL(msgs, "unexpected '!'; did you mean 'not' or '!='?");
    /* a run of stray bytes is one error */
    toks("let x = \x01\x02\x03");
    CU_ASSERT_STRING_EQUAL(msgs, "stray control byte 0x01");
    toks("let \xce\xb2 = 1");
    CU_ASSERT_STRING_EQUAL(msgs, "unexpected character '\xce\xb2': outside strings and comments a recipe is ASCII");
    toks("let \xff = 1");
    CU_ASSERT_STRING_EQUAL(msgs, "invalid UTF-8 byte 0xFF");
    /* NUL bytes do not end the input early */
    int t[16];
    kdr_diag d;
    kdr_diag_init(&d);
    static const char nul[] = "let a\0 = 1";
    size_t n = kdr_tokenize(nul, sizeof nul - 1, t, NULL, 16, &d);
    CU_ASSERT_EQUAL(n, 6);          /* let a = 1 NL EOF */
    CU_ASSERT_EQUAL(d.count, 1);
    if (d.count) CU_ASSERT_STRING_EQUAL(d.msgs[0].text, "NUL byte in recipe");
    kdr_diag_free(&d);
}

static void test_limits(void)
{
    /* 300 open parentheses: one error, then the lexer stops */
    char buf[400];
    memset(buf, '(', 300);
    buf[300] = 0;
    toks(buf);
    CU_ASSERT_STRING_EQUAL(msgs, "brackets nested more than 256 deep");
    /* a long identifier is reported and truncated */
    char id[400];
    memcpy(id, "let ", 4);
    memset(id + 4, 'a', 300);
    strcpy(id + 304, " = 1");
    toks(id);
    CU_ASSERT_STRING_EQUAL(msgs, "identifier is 300 bytes long (at most 255)");
}

static void test_empty(void)
{
    EXPECT_TOKS("", "EOF");
    EXPECT_TOKS("\n\n", "EOF");
    EXPECT_TOKS(";;", "NL NL EOF");
}

int main(void)
{
    static const kd_unit_test tests[] = {
        KD_TEST(test_numbers),
        KD_TEST(test_values),
        KD_TEST(test_strings),
        KD_TEST(test_operators),
        KD_TEST(test_comments_and_blank_lines),
        KD_TEST(test_newline_rules),
        KD_TEST(test_braces),
        KD_TEST(test_statement_words),
        KD_TEST(test_reserved_words),
        KD_TEST(test_bad_bytes),
        KD_TEST(test_limits),
        KD_TEST(test_empty),
        KD_TEST_END
    };
    return kd_unit_main("lexer", tests);
}
