#!/bin/sh
# help_man.sh — kdrun(1) and `kdrun --help` describe the program there is:
# the same long options (each one the program accepts), the same commands,
# the same exit statuses, and the sample diagnostic of kdrun(1) is what
# kdrun prints for it.
set -u
src=$(cd "${srcdir:-.}" && pwd)
kdrun=$(pwd)/kdrun
man="$src/man/kdrun.1"
fail() { echo "FAIL: $*"; exit 1; }
help=$("$kdrun" --help) || fail "kdrun --help"

opts_help=$(echo "$help" | grep -o -- '--[a-z][a-z-]*' | sort -u | tr '\n' ' ')
opts_man=$(grep -o 'Fl -[a-z][a-z-]*' "$man" | sed 's/Fl -/--/' | sort -u | tr '\n' ' ')
[ "$opts_help" = "$opts_man" ] || fail "long options: --help has [$opts_help], kdrun(1) [$opts_man]"
for o in $opts_help; do
    case $o in
        --model|--on|--metrics) out=$("$kdrun" eval /nonexistent.kdr "$o" x 2>&1) ;;
        *) out=$("$kdrun" "$o" 2>&1 </dev/null) ;;
    esac
    echo "$out" | grep -q "unknown option" && fail "$o is in --help but the program does not know it"
done

for c in eval report; do
    echo "$help" | grep -q "^ *\(usage: \)\?kdrun $c " || fail "--help's usage lacks 'kdrun $c'"
    grep -q "^\.Cm $c\$" "$man" || fail "kdrun(1)'s synopsis lacks '$c'"
done

codes_help=$(echo "$help" | sed -n '/^Exit status:/,/^$/p' | sed -n 's/^  \([0-9][0-9]*\)  .*/\1/p' | tr '\n' ' ')
codes_man=$(sed -n '/^\.Sh EXIT STATUS/,/^\.Sh /p' "$man" | sed -n 's/^\.It \([0-9][0-9]*\)$/\1/p' | tr '\n' ' ')
[ "$codes_help" = "$codes_man" ] || fail "exit statuses: --help [$codes_help], kdrun(1) [$codes_man]"

# the sample diagnostic
work=$(mktemp -d "${TMPDIR:-/tmp}/help_man.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
cat > mine.kdr <<'KDR'
use "nets/resnet.kdr"
data fmnist = idx("/usr/share/datasets/fashion-mnist") { train "train"; test "t10k" }
model student = resnet(depth: 8, classes: 10)
phase distill {
  train studnet on fmnist.train
  loss ce(student.logits, label)
}
KDR
KDRUN_PATH="$src/recipes" "$kdrun" --check --color=never mine.kdr > /dev/null 2> got.txt
sed -n '/^A typical diagnostic/,/^\.Ed/p' "$man" | sed -n '/^\.Bd/,/^\.Ed/p' | sed '1d;$d' > want.txt
[ -s want.txt ] || fail "no sample diagnostic in kdrun(1)"
diff want.txt got.txt || fail "kdrun(1)'s sample diagnostic is not what kdrun prints"
echo PASS
