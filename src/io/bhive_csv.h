/* BHive CSV lines ("hex,throughput", no header; spec §1.4) → bytes + label.
 * Pure parsing: no decoding of the machine code, no I/O. */
#ifndef GRANITE_IO_BHIVE_CSV_H
#define GRANITE_IO_BHIVE_CSV_H

#include <stddef.h>
#include <stdint.h>

/* Why a line was not accepted. BHIVE_OK = a usable line. The import command
 * adds its own kinds (undecodable, duplicate) after BHIVE_NUM_LINE_KINDS. */
enum BhiveLineKind {
  BHIVE_OK = 0,
  BHIVE_EMPTY_LINE,          /* nothing but whitespace */
  BHIVE_HEADER,              /* first line whose throughput column is not a number */
  BHIVE_TOO_FEW_COLUMNS,     /* missing hex or throughput column */
  BHIVE_EMPTY_HEX,           /* would give a block with no instructions (spec §8.7) */
  BHIVE_ODD_HEX,             /* odd number of hex digits */
  BHIVE_BAD_HEX_CHAR,        /* a character outside [0-9a-fA-F] */
  BHIVE_BAD_THROUGHPUT,      /* not a number (or trailing garbage) */
  BHIVE_NONFINITE_THROUGHPUT,/* nan / inf */
  BHIVE_NEGATIVE_THROUGHPUT, /* below zero */
  BHIVE_NUM_LINE_KINDS
};

/* Short text for a kind ("odd hex length"). */
const char *bhive_line_kind_name(int kind);

typedef struct {
  int hex_column;        /* default 0 (--machine_code_hex_column_index) */
  int throughput_column; /* default 1 (--throughput_column_index) */
} BhiveCsvColumns;

typedef struct {
  uint8_t *code;    /* decoded bytes (owned by the caller's buffer, see below) */
  size_t code_len;
  double throughput; /* as written in the file, not scaled */
} BhiveCsvLine;

/* Parses one line (len bytes, without or with its trailing "\n" / "\r\n").
 * Columns are split on ',' without quoting; surrounding blanks of each field
 * are ignored. Decoded bytes go into *buf (grown as needed, *cap its size);
 * out->code points into it. is_first_line lets a non-numeric throughput on
 * line 1 count as a header. Returns a BhiveLineKind. */
int bhive_csv_parse_line(const char *line, size_t len, const BhiveCsvColumns *cols, int is_first_line,
                         uint8_t **buf, size_t *cap, BhiveCsvLine *out);

/* Decodes hex digits (even count, [0-9a-fA-F] only) into out (len/2 bytes).
 * Returns BHIVE_OK, BHIVE_EMPTY_HEX, BHIVE_ODD_HEX or BHIVE_BAD_HEX_CHAR. */
int bhive_decode_hex(const char *hex, size_t len, uint8_t *out);

#endif
