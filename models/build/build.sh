#!/usr/bin/env bash
# Rebuild models/lastcall-mini-embed from Debian 12 (bookworm) sources, offline apart from apt.
#
#   models/build/build.sh            # full build (needs root or sudo for apt-get install)
#   WORK=/tmp/x models/build/build.sh
#
# Env:
#   WORK       scratch dir (default /tmp/lastcall-mini-embed-build)
#   DEBIAN_MIRROR  apt source for the Translation-en index
#                  (default http://deb.debian.org/debian; for a bit-for-bit rebuild of the
#                  descriptions use a snapshot, e.g. http://snapshot.debian.org/archive/debian/20250520T000000Z)
#   SEED       fastText seed (default 42)
#   SKIP_APT_INSTALL=1  do not apt-get install (packages already present)
#
# Deterministic: fastText runs with -thread 1 and a fixed seed; corpus and export are pure
# functions of their inputs. The system apt state is not touched except for `apt-get install`
# (the Translation-en index is fetched into a private lists/cache folder under $WORK).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${OUT_DIR:-$(cd "$HERE/.." && pwd)/lastcall-mini-embed}"
WORK="${WORK:-/tmp/lastcall-mini-embed-build}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SEED="${SEED:-42}"
DIM=128
VOCAB=50000
SIF_A=1e-3
FT_ARGS=(-dim "$DIM" -ws 5 -epoch 5 -neg 5 -minCount 5 -minn 0 -maxn 0 -t 1e-4 -lr 0.05 -thread 1 -seed "$SEED")
PY=/usr/bin/python3  # Debian python (python3-onnx/numpy), not a pyenv/venv one
DEB_PKGS=(fasttext wordnet-base python3-onnx python3-numpy dict-foldoc dict-jargon)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

T_START=$(date +%s)
mkdir -p "$WORK"
cd "$WORK"

echo "== 1/5 Debian packages"
if [ "${SKIP_APT_INSTALL:-0}" != "1" ]; then
  $SUDO apt-get install -y --no-install-recommends "${DEB_PKGS[@]}" \
    || { $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends "${DEB_PKGS[@]}"; }
fi

echo "== 2/5 Translation-en index (private apt lists folder)"
rm -rf "$WORK/apt"
mkdir -p "$WORK/apt/lists/partial" "$WORK/apt/cache/archives/partial"
echo "deb $DEBIAN_MIRROR bookworm main" > "$WORK/apt/sources.list"
APT_PRIVATE=(-o "Dir::State::Lists=$WORK/apt/lists" -o "Dir::Cache=$WORK/apt/cache"
  -o "Dir::Etc::SourceList=$WORK/apt/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
  -o "Acquire::Languages=en" -o "APT::Sandbox::User=root")
apt-get "${APT_PRIVATE[@]}" update
TR_FILE="$(ls "$WORK"/apt/lists/*_i18n_Translation-en* | head -n1)"
/usr/lib/apt/apt-helper cat-file "$TR_FILE" > "$WORK/translation-en.txt"
INRELEASE="$(ls "$WORK"/apt/lists/*_InRelease | head -n1)"
RELEASE_DATE="$(grep -m1 '^Date:' "$INRELEASE" | cut -d' ' -f2-)"
TR_SHA="$(sha256sum "$WORK/translation-en.txt" | cut -d' ' -f1)"

echo "== 3/5 corpus"
"$PY" "$HERE/corpus.py" "$WORK/translation-en.txt" "$WORK/corpus.txt" "$WORK/corpus-stats.json"
CORPUS_SHA="$(sha256sum "$WORK/corpus.txt" | cut -d' ' -f1)"

echo "== 4/5 fastText skipgram (single thread, seed $SEED)"
T_FT=$(date +%s)
fasttext skipgram -input "$WORK/corpus.txt" -output "$WORK/ft" "${FT_ARGS[@]}" -verbose 1
FT_SECONDS=$(( $(date +%s) - T_FT ))

echo "== 5/5 export ONNX + tokenizer"
rm -rf "$OUT/onnx" "$OUT/config.json" "$OUT/tokenizer.json" "$OUT/tokenizer_config.json"
"$PY" "$HERE/export.py" "$WORK/ft.vec" "$WORK/corpus.txt" "$OUT" \
  --vocab "$VOCAB" --sif-a "$SIF_A" --info "$WORK/build-info.json"

TOTAL_SECONDS=$(( $(date +%s) - T_START ))
ver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "?"; }

"$PY" "$HERE/provenance.py" \
  --out "$OUT/PROVENANCE.md" --stats "$WORK/corpus-stats.json" --info "$WORK/build-info.json" \
  --ft-cmd "fasttext skipgram -input corpus.txt -output ft ${FT_ARGS[*]}" --seed "$SEED" \
  --ft-seconds "$FT_SECONDS" --total-seconds "$TOTAL_SECONDS" \
  --mirror "$DEBIAN_MIRROR" --release-date "$RELEASE_DATE" --translation-sha "$TR_SHA" --corpus-sha "$CORPUS_SHA" \
  --pkg "fasttext=$(ver fasttext)" --pkg "wordnet-base=$(ver wordnet-base)" \
  --pkg "dict-foldoc=$(ver dict-foldoc)" --pkg "dict-jargon=$(ver dict-jargon)" \
  --pkg "python3-onnx=$(ver python3-onnx)" --pkg "python3-numpy=$(ver python3-numpy)"

cd "$OUT"
find . -type f ! -name SHA256SUMS ! -path './node_modules/*' -printf '%P\n' | LC_ALL=C sort | xargs sha256sum > SHA256SUMS
echo "== done in ${TOTAL_SECONDS}s -> $OUT"
du -sh "$OUT"
