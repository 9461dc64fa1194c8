/* libFuzzer target for the ELF reader and block splitter (collect/): any
 * bytes go through elf_read and, when they parse, through extraction of
 * every code section (duplicates set, counts; no output file). A crash,
 * sanitizer report or leak is a bug. Build and run (a few minutes at most
 * on a shared machine):
 *
 *   sh tests/fuzz/build_fuzz_elf.sh          # -> build-fuzz/fuzz_elf
 *   build-fuzz/fuzz_elf -max_total_time=120 -max_len=65536 build-fuzz/corpus-elf
 */
#include <stddef.h>
#include <stdint.h>

#include "collect/elf_reader.h"
#include "collect/extract.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ElfImage img;
  char err[256];
  if (elf_read(&img, data, size, err, sizeof err) == 0) {
    for (int i = 0; i < img.num_sections; i++)
      if (img.sections[i].data < data || img.sections[i].data + img.sections[i].size > data + size)
        __builtin_trap(); /* a section outside the input */
    elf_image_free(&img);
  }
  Extractor x;
  extractor_init(&x, NULL);
  extract_buffer(&x, "fuzz", data, size, err, sizeof err);
  extractor_free(&x);
  return 0;
}
