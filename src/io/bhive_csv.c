#include "io/bhive_csv.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/common.h"

static const char *const kind_names[BHIVE_NUM_LINE_KINDS] = {
    [BHIVE_OK] = "ok",
    [BHIVE_EMPTY_LINE] = "empty line",
    [BHIVE_HEADER] = "header line",
    [BHIVE_TOO_FEW_COLUMNS] = "missing column",
    [BHIVE_EMPTY_HEX] = "empty hex (no instructions)",
    [BHIVE_ODD_HEX] = "odd hex length",
    [BHIVE_BAD_HEX_CHAR] = "invalid hex character",
    [BHIVE_BAD_THROUGHPUT] = "bad throughput",
    [BHIVE_NONFINITE_THROUGHPUT] = "non-finite throughput",
    [BHIVE_NEGATIVE_THROUGHPUT] = "negative throughput",
};

const char *bhive_line_kind_name(int kind) {
  if (kind < 0 || kind >= BHIVE_NUM_LINE_KINDS) return "?";
  return kind_names[kind];
}

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int bhive_decode_hex(const char *hex, size_t len, uint8_t *out) {
  if (len == 0) return BHIVE_EMPTY_HEX;
  for (size_t i = 0; i < len; i++)
    if (hex_value(hex[i]) < 0) return BHIVE_BAD_HEX_CHAR;
  if (len % 2) return BHIVE_ODD_HEX;
  for (size_t i = 0; i < len / 2; i++)
    out[i] = (uint8_t)(hex_value(hex[2 * i]) << 4 | hex_value(hex[2 * i + 1]));
  return BHIVE_OK;
}

/* Finds column `col` of line[0..len): sets *start and *flen to the field with
 * surrounding blanks trimmed. 0, or -1 if the line has fewer columns. */
static int find_field(const char *line, size_t len, int col, const char **start, size_t *flen) {
  size_t pos = 0;
  for (int c = 0; c < col; c++) {
    const char *comma = memchr(line + pos, ',', len - pos);
    if (!comma) return -1;
    pos = (size_t)(comma - line) + 1;
  }
  const char *comma = memchr(line + pos, ',', len - pos);
  size_t end = comma ? (size_t)(comma - line) : len;
  while (pos < end && is_blank(line[pos])) pos++;
  while (end > pos && is_blank(line[end - 1])) end--;
  *start = line + pos;
  *flen = end - pos;
  return 0;
}

/* spec §1.4 step 2: a plain decimal/scientific number (strtod syntax). */
static int parse_number(const char *s, size_t len, double *out) {
  char tmp[64];
  if (len == 0 || len >= sizeof tmp) return -1;
  memcpy(tmp, s, len);
  tmp[len] = 0;
  char *end;
  *out = strtod(tmp, &end);
  return (end == tmp + len) ? 0 : -1;
}

int bhive_csv_parse_line(const char *line, size_t len, const BhiveCsvColumns *cols, int is_first_line,
                         uint8_t **buf, size_t *cap, BhiveCsvLine *out) {
  memset(out, 0, sizeof *out);
  size_t i = 0;
  while (i < len && is_blank(line[i])) i++;
  if (i == len) return BHIVE_EMPTY_LINE;

  const char *hex, *tput;
  size_t hex_len, tput_len;
  if (find_field(line, len, cols->hex_column, &hex, &hex_len) ||
      find_field(line, len, cols->throughput_column, &tput, &tput_len))
    return BHIVE_TOO_FEW_COLUMNS;

  double value;
  int number_ok = parse_number(tput, tput_len, &value) == 0;
  if (!number_ok && is_first_line) return BHIVE_HEADER;

  grow_array((void **)buf, cap, hex_len / 2 + 1, 1);
  int kind = bhive_decode_hex(hex, hex_len, *buf);
  if (kind != BHIVE_OK) return kind;
  if (tput_len == 0) return BHIVE_TOO_FEW_COLUMNS;
  if (!number_ok) return BHIVE_BAD_THROUGHPUT;
  if (!isfinite(value) || fabs(value) > FLT_MAX) return BHIVE_NONFINITE_THROUGHPUT; /* labels are float32 */
  if (value < 0) return BHIVE_NEGATIVE_THROUGHPUT;
  out->code = *buf;
  out->code_len = hex_len / 2;
  out->throughput = value;
  return BHIVE_OK;
}
