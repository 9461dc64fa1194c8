#include "train/precision.h"

#include <stdbool.h>
#include <stdio.h>

void precision_apply(GraniteModel *m, int precision) {
  static bool said;
  if (precision != PRECISION_BF16) {
    granite_set_bf16(m, false);
    return;
  }
  if (!granite_set_bf16(m, true) && !said) {
    fprintf(stderr, "granite: note: --granite_precision=bf16: this CPU lacks AVX512_BF16 (vdpbf16ps); "
                    "running in FP32\n");
    said = true;
  }
}
