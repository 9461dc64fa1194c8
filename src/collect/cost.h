/* granite cost (what Gematria's llvm-cm does): the basic blocks of an ELF
 * file (elf_reader.h, block_split.h), each predicted by a model, weighted by
 * how often it runs, summed per function (the nearest symbol at or before
 * the block) and in total. */
#ifndef GRANITE_COLLECT_COST_H
#define GRANITE_COLLECT_COST_H

#include <stddef.h>
#include <stdint.h>

#include "collect/elf_reader.h"
#include "granite.h"

/* Block frequencies: "[SECTION:]ADDRESS,FREQUENCY" lines (a header line and
 * '#' comments allowed); ADDRESS is the block's first byte (0x... or
 * decimal); SECTION only matters where code sections share addresses (object
 * files). */
typedef struct {
  char section[64]; /* "" = any */
  uint64_t address;
  double frequency;
  int used;
} BlockFrequency;

typedef struct {
  BlockFrequency *items; /* sorted by address */
  size_t n;
  char *path;
} FrequencyTable;

/* 0, or -1 after one error line naming the file and line. */
int frequency_table_load(FrequencyTable *t, const char *path);
void frequency_table_free(FrequencyTable *t);

typedef struct {
  int section;      /* index into the image's sections */
  uint64_t address;
  size_t size;
  int instructions;
  int function;     /* index into CostReport.functions */
  double frequency; /* 1 without a frequency table; 0 if the table does not list it */
  float prediction; /* NaN: the model could not predict it */
  double cost;      /* prediction × frequency (0 when NaN) */
} CostBlock;

typedef struct {
  const char *name; /* symbol name, or "<SECTION>" for code before the first symbol */
  uint64_t address;
  long blocks;
  double cost;
} CostFunction;

typedef struct {
  ElfImage image;
  CostBlock *blocks;
  size_t num_blocks;
  CostFunction *functions;
  int num_functions;
  char (*section_labels)[72]; /* "<.text>" per section */
  long unpredicted;           /* blocks the model could not predict */
  long frequencies_unmatched; /* table lines naming no block start */
  char unmatched_example[96];
  double total;
} CostReport;

/* Splits, predicts (task 0) and sums the file data[0..size) (which must
 * outlive *r). 0, or -1 with err set to "offset ...: what is wrong". */
int cost_analyze(CostReport *r, const uint8_t *data, size_t size, granite_model *model, FrequencyTable *freq,
                 char *err, size_t err_size);
void cost_report_free(CostReport *r);

#endif
