/* The loops around the register tiles of our matmul kernels, written once
 * for every vector width and element type (FP32 at 512 and 256 bits, BF16
 * pairs at 512): the tile itself comes from gemm_tile_template.h, the
 * loops here only decide which tile covers which part of the output and
 * which thread runs it.
 *
 * Every output element is one FMA chain over k in order, started from zero
 * and added to y at the end (beta 1): which tile shape or thread computes
 * it, and which other rows are in the call, does not change a bit of it. */
#ifndef GRANITE_NN_GEMM_TILES_H
#define GRANITE_NN_GEMM_TILES_H

#include <stddef.h>

/* y[r rows × cols] = Σ_k a(i,k)·b[k][...] (+ y if beta is 1), a(i,k) at
 * a[i*as_i + k*as_k] elements (so a may be read transposed), b rows ldb
 * elements apart, cols = (nv-1)·lanes + (tail ? tail : lanes). r ≤ 6,
 * nv ≤ max_nv (r ≤ 2: max_nv_small / r); tail > 0 only for tiles built with
 * masked loads. */
typedef void (*GemmTileFn)(float *y, int ldy, const void *a, size_t as_i, size_t as_k, const void *b, size_t ldb,
                           int K, float beta, int r, int nv, int tail);

typedef struct {
  GemmTileFn tile;
  int lanes;      /* FP32 lanes of a vector */
  int max_nv;     /* vectors across a tile: a tile is 6 rows × max_nv·lanes columns */
  int max_nv_small; /* vectors across a tile of 1 row (2 rows: half as many), ≥ max_nv */
  int elem_size;  /* bytes of an element of a and b */
  int kc;         /* k steps per pass of the weight gradient: a kc × (max_nv·lanes) slice of b stays in L1 */
} GemmTiles;

#define GEMM_TILE_ROWS 6

/* y[rows×out] = a[rows×K]·b[K×out] + beta·y; a rows lda elements apart, b
 * dense (rows out apart), y rows ldy apart. Rows in chunks shared out to
 * threads. */
void gemm_tiles_nn(const GemmTiles *t, float *y, int ldy, const void *a, size_t lda, const void *b, int rows, int K,
                   int out, float beta);

/* c[m×out] += aᵀ·b, a[K×m] rows lda elements apart, b[K×out] dense.
 * Threads own disjoint rows of c. */
void gemm_tiles_tn_acc(const GemmTiles *t, float *c, const void *a, size_t lda, const void *b, int K, int m,
                       int out);

#endif
