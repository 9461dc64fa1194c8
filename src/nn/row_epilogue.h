/* Work done on a matmul's output rows right after they are computed (bias,
 * activation, gathered terms): the BF16 matmul runs it on each chunk of
 * rows while the chunk is still in cache, so the output is not read back
 * from memory for it. Every row is treated on its own: the same bits
 * whichever rows a call covers. */
#ifndef GRANITE_NN_ROW_EPILOGUE_H
#define GRANITE_NN_ROW_EPILOGUE_H

/* Rows [r0, r1) of y (cols wide, rows ldy apart). */
typedef void (*RowEpilogueFn)(const void *ctx, float *y, int ldy, int cols, int r0, int r1);

typedef struct {
  RowEpilogueFn fn;
  const void *ctx;
} RowEpilogue;

#endif
