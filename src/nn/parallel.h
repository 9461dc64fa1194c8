/* When a kernel opens an OpenMP region. A region costs a libgomp call, a
 * team setup and a barrier even when its `if` clause is false (about a
 * microsecond each, and a model pass has hundreds): so kernels branch to a
 * plain loop instead when the work is small, when only one thread is
 * allowed, or when they already run inside a region (data-parallel
 * replicas), and open a region only when it pays. */
#ifndef GRANITE_NN_PARALLEL_H
#define GRANITE_NN_PARALLEL_H

#include <omp.h>
#include <stdbool.h>

#define PAR_MIN 16384 /* below this many floats a loop is not worth a parallel region */

static inline bool nn_parallel(long work, long min_work) {
  return work > min_work && omp_get_max_threads() > 1 && !omp_in_parallel();
}

/* for (header) body, shared out to threads with schedule(static) when
 * nn_parallel(work, min_work). The body may hold commas; pragmas inside it
 * must be written _Pragma("..."). */
#define NN_PARALLEL_FOR(work, min_work, header, ...)          \
  do {                                                         \
    if (nn_parallel((work), (min_work))) {                     \
      _Pragma("omp parallel for schedule(static)")             \
      for (header) __VA_ARGS__                                 \
    } else {                                                   \
      for (header) __VA_ARGS__                                 \
    }                                                          \
  } while (0)

/* { body } run by every thread of a region when nn_parallel(work, min_work),
 * else once on the caller. The body splits its work by nn_threads and
 * nn_thread (not omp_get_num_threads(): inside a data-parallel replica that
 * is the outer team's size). */
#define NN_PARALLEL_REGION(work, min_work, ...)                                       \
  do {                                                                                 \
    if (nn_parallel((work), (min_work))) {                                             \
      _Pragma("omp parallel") {                                                        \
        const int nn_threads = omp_get_num_threads(), nn_thread = omp_get_thread_num(); \
        __VA_ARGS__                                                                    \
      }                                                                                \
    } else {                                                                           \
      const int nn_threads = 1, nn_thread = 0;                                         \
      __VA_ARGS__                                                                      \
    }                                                                                  \
  } while (0)

#endif
