/* One register tile of a matmul, instantiated once per vector width and
 * element type (no include guard: included once per instance). The
 * includer defines:
 *   TILE_FN          name of the generated GemmTileFn (nn/gemm_tiles.h)
 *   TILE_TARGET      its target attribute, e.g. "avx2,fma"
 *   VEC, BVEC, ELEM  the accumulator vector (FP32 lanes), a vector of b,
 *                    an element of a and b
 *   LANES            FP32 lanes of a vector (and elements of b per vector)
 *   MAX_NV           vectors across a tile (accumulators 6·MAX_NV, plus
 *                    MAX_NV for b and one broadcast, fit the registers)
 *   MAX_NV_SMALL     (optional, default MAX_NV) vectors across a tile of
 *                    1 or 2 rows: 1 row × MAX_NV_SMALL or 2 rows ×
 *                    MAX_NV_SMALL/2. A tile of a few rows with MAX_NV vectors
 *                    has too few accumulators to hide the FMA latency (1 row
 *                    × 2 AVX2 vectors: a quarter of the FMA rate)
 *   ZERO(), LOAD_B(p), BCAST(e), MADD(acc, a_bcast, b), ADD(u, v),
 *   LOAD_Y(p), STORE_Y(p, v)
 * and, for outputs that are not a multiple of the lanes (optional):
 *   MASK, MAKE_MASK(n), LOAD_B_MASKED(p, m), LOAD_Y_MASKED(p, m),
 *   STORE_Y_MASKED(p, v, m)
 * Everything defined here and those macros are undefined at the end. */

#define TILE_CAT_(x, y) x##y
#define TILE_CAT(x, y) TILE_CAT_(x, y)
#define TILE_BODY TILE_CAT(TILE_FN, _body)
#ifndef MAX_NV_SMALL
#define MAX_NV_SMALL MAX_NV
#endif
#define TILE_ACC_NV (MAX_NV_SMALL > MAX_NV ? MAX_NV_SMALL : MAX_NV)

/* y[R rows x NV vectors] = Σ_k a(i,k)·b[k][...] (+ y): accumulators in
 * registers, b's vectors loaded once per k, a broadcast. Inlined with
 * constant R, NV and MASKED (the last vector has only `tail` lanes). */
__attribute__((target(TILE_TARGET), always_inline)) static inline void TILE_BODY(
    float *y, int ldy, const ELEM *a, size_t as_i, size_t as_k, const ELEM *b, size_t ldb, int K, float beta,
    int tail, const int R, const int NV, const bool MASKED) {
#ifdef MASK
  MASK m = MASKED ? MAKE_MASK(tail) : MAKE_MASK(0);
#else
  (void)tail;
#endif
  VEC acc[GEMM_TILE_ROWS][TILE_ACC_NV];
  _Pragma("GCC unroll 6")
  for (int i = 0; i < R; i++)
    _Pragma("GCC unroll 8")
    for (int j = 0; j < NV; j++) acc[i][j] = ZERO();
  for (int k = 0; k < K; k++) {
    const ELEM *bk = b + (size_t)k * ldb;
    BVEC bv[TILE_ACC_NV];
    _Pragma("GCC unroll 8")
    for (int j = 0; j < NV; j++) {
#ifdef MASK
      bv[j] = MASKED && j == NV - 1 ? LOAD_B_MASKED(bk + LANES * j, m) : LOAD_B(bk + LANES * j);
#else
      bv[j] = LOAD_B(bk + LANES * j);
#endif
      /* keep b in a register: folding the load into every FMA costs R loads
       * (with one row, folding it is what saves the registers) */
      if (R > 1) __asm__("" : "+v"(bv[j]));
    }
    _Pragma("GCC unroll 6")
    for (int i = 0; i < R; i++) {
      BVEC ab = BCAST(a[(size_t)i * as_i + (size_t)k * as_k]);
      _Pragma("GCC unroll 8")
      for (int j = 0; j < NV; j++) acc[i][j] = MADD(acc[i][j], ab, bv[j]);
    }
  }
  _Pragma("GCC unroll 6")
  for (int i = 0; i < R; i++)
    _Pragma("GCC unroll 8")
    for (int j = 0; j < NV; j++) {
      float *p = y + (size_t)i * ldy + LANES * j;
#ifdef MASK
      if (MASKED && j == NV - 1) {
        STORE_Y_MASKED(p, beta != 0.0f ? ADD(acc[i][j], LOAD_Y_MASKED(p, m)) : acc[i][j], m);
        continue;
      }
#endif
      STORE_Y(p, beta != 0.0f ? ADD(acc[i][j], LOAD_Y(p)) : acc[i][j]);
    }
}

#ifdef MASK
#define TILE_CASE(R, NV)                                                                          \
  case (R)*32 + (NV)*2:                                                                         \
    TILE_BODY(y, ldy, a, as_i, as_k, b, ldb, K, beta, 0, R, NV, false);                     \
    break;                                                                                      \
  case (R)*32 + (NV)*2 + 1:                                                                     \
    TILE_BODY(y, ldy, a, as_i, as_k, b, ldb, K, beta, tail, R, NV, true);                   \
    break;
#else
#define TILE_CASE(R, NV)                                                                          \
  case (R)*32 + (NV)*2:                                                                         \
    TILE_BODY(y, ldy, a, as_i, as_k, b, ldb, K, beta, 0, R, NV, false);                     \
    break;
#endif
#define TILE_NV2(R) TILE_CASE(R, 1) TILE_CASE(R, 2)
#define TILE_NV4(R) TILE_NV2(R) TILE_CASE(R, 3) TILE_CASE(R, 4)
#define TILE_NV8(R) TILE_NV4(R) TILE_CASE(R, 5) TILE_CASE(R, 6) TILE_CASE(R, 7) TILE_CASE(R, 8)
#define TILE_NV_(R, n) TILE_NV##n(R)
#define TILE_NV(R, n) TILE_NV_(R, n)
#if MAX_NV == 2 && MAX_NV_SMALL == 8
#define TILE_ROWS TILE_NV(1, 8) TILE_NV(2, 4) TILE_NV(3, 2) TILE_NV(4, 2) TILE_NV(5, 2) TILE_NV(6, 2)
#elif MAX_NV == 2 && MAX_NV_SMALL == 2
#define TILE_ROWS TILE_NV(1, 2) TILE_NV(2, 2) TILE_NV(3, 2) TILE_NV(4, 2) TILE_NV(5, 2) TILE_NV(6, 2)
#elif MAX_NV == 4 && MAX_NV_SMALL == 4
#define TILE_ROWS TILE_NV(1, 4) TILE_NV(2, 4) TILE_NV(3, 4) TILE_NV(4, 4) TILE_NV(5, 4) TILE_NV(6, 4)
#else
#error "unsupported MAX_NV / MAX_NV_SMALL"
#endif

__attribute__((target(TILE_TARGET))) static void TILE_FN(float *y, int ldy, const void *av, size_t as_i,
                                                         size_t as_k, const void *bv, size_t ldb, int K, float beta,
                                                         int r, int nv, int tail) {
  const ELEM *a = av, *b = bv;
  switch (r * 32 + nv * 2 + (tail > 0)) {
    TILE_ROWS
  default: break;
  }
}

#undef TILE_CASE
#undef TILE_CAT_
#undef TILE_CAT
#undef TILE_BODY
#undef TILE_ROWS
#undef TILE_NV2
#undef TILE_NV4
#undef TILE_NV8
#undef TILE_NV_
#undef TILE_NV
#undef TILE_ACC_NV
#undef TILE_FN
#undef TILE_TARGET
#undef VEC
#undef BVEC
#undef ELEM
#undef LANES
#undef MAX_NV
#undef MAX_NV_SMALL
#undef ZERO
#undef LOAD_B
#undef BCAST
#undef MADD
#undef ADD
#undef LOAD_Y
#undef STORE_Y
#undef MASK
#undef MAKE_MASK
#undef LOAD_B_MASKED
#undef LOAD_Y_MASKED
#undef STORE_Y_MASKED
