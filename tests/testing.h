/* A tiny test harness: CHECK records a failure with file:line and goes on;
 * the test's main returns test_summary(), non-zero when anything failed. */
#ifndef GRANITE_TESTING_H
#define GRANITE_TESTING_H

#include <math.h>
#include <stdio.h>

extern int test_failures;
extern int test_checks;

#define CHECK(cond)                                                              \
  do {                                                                           \
    test_checks++;                                                               \
    if (!(cond)) {                                                               \
      test_failures++;                                                           \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
    }                                                                            \
  } while (0)

#define CHECK_MSG(cond, ...)                                                     \
  do {                                                                           \
    test_checks++;                                                               \
    if (!(cond)) {                                                               \
      test_failures++;                                                           \
      fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);   \
      fprintf(stderr, __VA_ARGS__);                                              \
      fputc('\n', stderr);                                                       \
    }                                                                            \
  } while (0)

/* |a-b| <= atol + rtol*|b| */
#define CHECK_NEAR(a, b, rtol, atol)                                                         \
  do {                                                                                       \
    double a_ = (a), b_ = (b);                                                               \
    test_checks++;                                                                           \
    if (!(fabs(a_ - b_) <= (atol) + (rtol)*fabs(b_))) {                                      \
      test_failures++;                                                                       \
      fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s = %.9g, %s = %.9g\n", __FILE__, __LINE__, \
              #a, a_, #b, b_);                                                               \
    }                                                                                        \
  } while (0)

/* Exit status of a test that cannot run here (CTest shows it as skipped). */
#define TEST_SKIPPED 77

/* Says that part of the test cannot run here and why ("SKIPPED: ..."); the
 * whole test then ends as skipped unless a check failed. */
void test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "name: N checks, F failures" and returns the exit status: 1 when
 * a check failed or when no check ran at all (and nothing was skipped),
 * TEST_SKIPPED when a part was skipped, else 0. */
int test_summary(const char *name);

/* The sanitizers the build uses ("address,undefined" in make check-sanitize,
 * set by CMake in the tests' environment), or NULL. Tests that cannot run
 * under them say why and exit TEST_SKIPPED. */
const char *test_sanitizers(void);

/* Path of ../shared/data (env GRANITE_SHARED_DATA overrides); NULL if absent,
 * in which case tests that need it say so and pass only what they can check. */
const char *shared_data_dir(void);

/* Captures what is written to stderr between the two calls into msg[cap]
 * (NUL-terminated), so tests can check the text of error lines. */
typedef struct {
  int fd, saved;
  char path[64];
} StderrCapture;
void stderr_capture_begin(StderrCapture *c);
void stderr_capture_end(StderrCapture *c, char *msg, size_t cap);

/* Reads a whole file into a NUL-terminated buffer (NULL if it cannot). */
char *read_file_text(const char *path, size_t *len);

#endif
