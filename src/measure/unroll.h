/* The code that runs a block: a function that saves the harness's registers,
 * puts every register in its fixed start state (layout.h), runs the block
 * `factor` times back to back (no loop: the unrolled copies), and restores
 * the harness. Called from C as void (*)(void). */
#ifndef GRANITE_MEASURE_UNROLL_H
#define GRANITE_MEASURE_UNROLL_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  int avx;     /* VEX-encoded vector setup and vzeroupper on exit */
  int avx512;  /* also xmm16..xmm31 */
} UnrollIsa;

/* The vector ISA of this CPU and OS (cpuid + xgetbv). */
UnrollIsa unroll_detect_isa(void);

/* Bytes of the prologue and epilogue around the unrolled body. */
size_t unroll_overhead(UnrollIsa isa);

/* Writes the function into out (cap bytes). It may be placed anywhere: it
 * uses only the absolute addresses of layout.h. Returns its size, or 0 if it
 * does not fit; *body_offset receives the offset of the first copy of the
 * block. */
size_t unroll_emit(uint8_t *out, size_t cap, const uint8_t *block, size_t block_len, int factor, UnrollIsa isa,
                   size_t *body_offset);

#endif
