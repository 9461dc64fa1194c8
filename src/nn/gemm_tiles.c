#include "nn/gemm_tiles.h"

#include "nn/parallel.h"

/* Rows per chunk: one chunk of a (ROW_CHUNK x K elements) stays in L2 while
 * every column slice of b passes over it; chunks go to different threads. */
#define ROW_CHUNK 96

/* The tile covering columns [c, out) with at most max_nv vectors: its vector
 * count and the lanes of its last vector (0: all). */
static void cover(const GemmTiles *t, int max_nv, int c, int out, int *nv, int *tail) {
  int left = out - c, width = max_nv * t->lanes;
  if (left >= width) {
    *nv = max_nv, *tail = 0;
  } else {
    *nv = (left + t->lanes - 1) / t->lanes;
    *tail = left % t->lanes;
  }
}

/* Rows of the next tile when `left` rows remain: tiles as even as possible,
 * at most 6 rows (26 rows: 6+5+5+5+5, not 6+6+6+6+2, whose 2-row tile has
 * too few accumulators to hide the FMA latency). */
static int tile_rows(int left) {
  int tiles = (left + GEMM_TILE_ROWS - 1) / GEMM_TILE_ROWS;
  return (left + tiles - 1) / tiles;
}

void gemm_tiles_nn(const GemmTiles *t, float *y, int ldy, const void *a, size_t lda, const void *b, int rows, int K,
                   int out, float beta) {
  const char *ab = a, *bb = b;
  size_t es = (size_t)t->elem_size;
  int chunks = (rows + ROW_CHUNK - 1) / ROW_CHUNK;
  NN_PARALLEL_FOR(chunks, 2, int ch = 0; ch < chunks; ch++, {
    int r0 = ch * ROW_CHUNK, r1 = r0 + ROW_CHUNK < rows ? r0 + ROW_CHUNK : rows;
    /* 1 or 2 rows (a block's global update, a readout): wider tiles */
    int max_nv = r1 - r0 <= 2 && t->max_nv_small / (r1 - r0) > t->max_nv ? t->max_nv_small / (r1 - r0) : t->max_nv;
    for (int c = 0; c < out; c += max_nv * t->lanes) {
      int nv, tail;
      cover(t, max_nv, c, out, &nv, &tail);
      for (int r = r0, rr; r < r1; r += rr) {
        rr = tile_rows(r1 - r);
        t->tile(y + (size_t)r * ldy + c, ldy, ab + (size_t)r * lda * es, lda, 1, bb + (size_t)c * es, (size_t)out,
                K, beta, rr, nv, tail);
      }
    }
  });
}

void gemm_tiles_tn_acc(const GemmTiles *t, float *c, const void *a, size_t lda, const void *b, int K, int m,
                       int out) {
  /* c tile (6 rows of m x one column slice of out) += Σ_k a[k][i] ⊗ b[k][...]:
   * the tile reading a transposed, in passes of kc steps of k */
  const char *ab = a, *bb = b;
  size_t es = (size_t)t->elem_size;
  int width = t->max_nv * t->lanes, tiles = (m + GEMM_TILE_ROWS - 1) / GEMM_TILE_ROWS, kc = t->kc;
  NN_PARALLEL_REGION((long)K * m * out, 1L << 20,
    int nt = nn_threads, th = nn_thread;
    int t0 = (int)((long)tiles * th / nt), t1 = (int)((long)tiles * (th + 1) / nt);
    for (int k0 = 0; k0 < K; k0 += kc) {
      int kb = K - k0 < kc ? K - k0 : kc;
      for (int col = 0; col < out; col += width) {
        int nv, tail;
        cover(t, t->max_nv, col, out, &nv, &tail);
        for (int ti = t0; ti < t1; ti++) {
          int i = ti * GEMM_TILE_ROWS, rr = m - i >= GEMM_TILE_ROWS ? GEMM_TILE_ROWS : m - i;
          t->tile(c + (size_t)i * out + col, out, ab + ((size_t)k0 * lda + i) * es, 1, lda,
                  bb + ((size_t)k0 * out + col) * es, (size_t)out, kb, 1.0f, rr, nv, tail);
        }
      }
    }
  );
}
