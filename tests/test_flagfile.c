/* --flagfile (util/flagfile.h): expansion in place, comments and blank
 * lines, nesting, override order with the real flag parser, FILE:LINE in the
 * errors of bad files and of bad flags read from a file. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testing.h"
#include "train/flags.h"
#include "util/flagfile.h"

static char dir[64];

static const char *write_file(const char *name, const char *text) {
  static char paths[8][128];
  static int next;
  char *p = paths[next++ % 8];
  snprintf(p, 128, "%s/%s", dir, name);
  FILE *f = fopen(p, "w");
  fputs(text, f);
  fclose(f);
  return p;
}

/* Expands args; returns the status, the error text in err. */
static int expand(const char **args, int *argc_out, char ***argv_out, char *err, size_t cap) {
  char *argv[16];
  int argc = 0;
  for (; *args; args++) argv[argc++] = (char *)*args;
  StderrCapture c;
  stderr_capture_begin(&c);
  int rc = flagfile_expand(argc, argv, 1, argc_out, argv_out);
  stderr_capture_end(&c, err, cap);
  return rc;
}

static void test_expansion_in_place(void) {
  char flag[160], err[512];
  const char *inner = write_file("inner.flags", "--c=3\n");
  snprintf(flag, sizeof flag, "--flagfile=%s", inner);
  char text[400];
  snprintf(text, sizeof text,
           "# a comment\n\n   --a=1   \n\t# indented comment\n--b=two words\n%s\n--flagfile\n%s\n--d\n", flag, inner);
  const char *outer = write_file("outer.flags", text);
  const char *args[] = {"granite", "train", "--x=0", "--flagfile", outer, "--y=9", NULL};
  int argc;
  char **argv;
  CHECK(expand(args, &argc, &argv, err, sizeof err) == 0);
  const char *want[] = {"granite", "train", "--x=0", "--a=1", "--b=two words", "--c=3", "--c=3", "--d", "--y=9"};
  CHECK(argc == 9);
  for (int i = 0; i < argc && i < 9; i++) CHECK_MSG(!strcmp(argv[i], want[i]), "arg %d: %s", i, argv[i]);
  CHECK(argv[argc] == NULL);
  /* places: the command line has none, file flags their FILE:LINE */
  CHECK(flagfile_origin(argv[2]) == NULL && flagfile_origin(argv[8]) == NULL);
  char where[200];
  snprintf(where, sizeof where, "%s:3", outer);
  CHECK(flagfile_origin(argv[3]) && !strcmp(flagfile_origin(argv[3]), where));
  snprintf(where, sizeof where, "%s:1", inner);
  CHECK(flagfile_origin(argv[5]) && !strcmp(flagfile_origin(argv[5]), where));
  snprintf(where, sizeof where, "%s:9", outer);
  CHECK(flagfile_origin(argv[7]) && !strcmp(flagfile_origin(argv[7]), where));
  free(argv);

  /* no --flagfile: the same vector */
  const char *plain[] = {"granite", "--a=1", "b", NULL};
  CHECK(expand(plain, &argc, &argv, err, sizeof err) == 0 && argc == 3 && !strcmp(argv[2], "b") && !argv[3]);
  free(argv);
}

/* Each bad file: status -1 and one error line containing `want`. */
static void check_bad(const char *name, const char *text, const char *arg_fmt, const char *want_fmt) {
  const char *path = text ? write_file(name, text) : name;
  char arg[200], want[300], err[1024];
  snprintf(arg, sizeof arg, arg_fmt, path);
  snprintf(want, sizeof want, want_fmt, path);
  const char *args[] = {"granite", "train", arg, NULL};
  int argc;
  char **argv;
  CHECK_MSG(expand(args, &argc, &argv, err, sizeof err) == -1, "%s was accepted", name);
  CHECK_MSG(strstr(err, want) != NULL, "%s: want '%s' in: %s", name, want, err);
  const char *nl = strchr(err, '\n');
  CHECK_MSG(nl && nl[1] == 0, "%s: not exactly one line: %s", name, err);
}

static void test_bad_files(void) {
  check_bad("missing.flags", NULL, "--flagfile=%s", "--flagfile=missing.flags: cannot open");
  check_bad("word.flags", "--a=1\nfoo.tfrecord\n", "--flagfile=%s", "%s:2: expected a flag (--name=value), got 'foo.tfrecord'");
  check_bad("space.flags", "\n\n--gematria_input_file data.tfrecord\n", "--flagfile=%s", "%s:3: '--gematria_input_file data.tfrecord': write --name=value");
  check_bad("dash.flags", "-\n", "--flagfile=%s", "%s:1: expected a flag");
  check_bad("empty_name.flags", "--flagfile=\n", "--flagfile=%s", "%s:1: --flagfile= names no file");
  check_bad("dangling.flags", "--a=1\n--flagfile\n", "--flagfile=%s", "%s:2: --flagfile needs a file name");
  char self[200];
  snprintf(self, sizeof self, "--flagfile=%s/self.flags\n", dir);
  check_bad("self.flags", self, "--flagfile=%s", "nested more than 8 deep");
  char inner_missing[200];
  snprintf(inner_missing, sizeof inner_missing, "# x\n--flagfile=%s/nowhere.flags\n", dir);
  check_bad("includes_missing.flags", inner_missing, "--flagfile=%s", "%s:2: --flagfile=");
  check_bad("x", "", "--flagfile=", "--flagfile= names no file");
  const char *args[] = {"granite", "train", "--flagfile", NULL};
  int argc;
  char **argv;
  char err[512];
  CHECK(expand(args, &argc, &argv, err, sizeof err) == -1 && strstr(err, "--flagfile needs a file name"));
  /* a depth of exactly FLAGFILE_MAX_DEPTH files is fine */
  char name[32], text[200];
  for (int d = FLAGFILE_MAX_DEPTH; d >= 1; d--) {
    snprintf(name, sizeof name, "chain%d.flags", d);
    if (d == FLAGFILE_MAX_DEPTH) snprintf(text, sizeof text, "--deepest=1\n");
    else snprintf(text, sizeof text, "--flagfile=%s/chain%d.flags\n", dir, d + 1);
    write_file(name, text);
  }
  char top[200];
  snprintf(top, sizeof top, "--flagfile=%s/chain1.flags", dir);
  const char *chain[] = {"granite", top, NULL};
  CHECK(expand(chain, &argc, &argv, err, sizeof err) == 0 && argc == 2 && !strcmp(argv[1], "--deepest=1"));
  free(argv);
}

/* With the --gematria_* parser: later flags win, multi flags accumulate, and
 * a bad flag from a file is reported at its FILE:LINE. */
static void test_with_flag_parser(void) {
  const char *path = write_file("run.flags",
                                "--gematria_learning_rate=0.01\n--gematria_loss_type=mean_absolute_error\n"
                                "--gematria_throughput_source_filter=hsw\n");
  char arg[200], err[1024];
  snprintf(arg, sizeof arg, "--flagfile=%s", path);
  const char *args[] = {"granite", "--gematria_learning_rate=0.5", arg, "--gematria_loss_type=huber",
                        "--gematria_throughput_source_filter=skl", NULL};
  int argc;
  char **argv;
  CHECK(expand(args, &argc, &argv, err, sizeof err) == 0);
  GematriaFlags f;
  flags_init(&f);
  CHECK(flags_parse(&f, argc, argv, 1) == 0);
  CHECK(f.learning_rate == 0.01);          /* the file overrides what came before */
  CHECK(f.loss_type == LOSS_FLAG_HUBER);   /* what comes after overrides the file */
  CHECK(f.throughput_source_filter.count == 2 && !strcmp(f.throughput_source_filter.items[0], "hsw"));
  flags_free(&f);
  free(argv);

  const char *bad = write_file("bad.flags", "--gematria_learning_rate=0.01\n\n# ok\n--gematria_learning_rate=fast\n");
  snprintf(arg, sizeof arg, "--flagfile=%s", bad);
  const char *args2[] = {"granite", arg, NULL};
  CHECK(expand(args2, &argc, &argv, err, sizeof err) == 0);
  flags_init(&f);
  StderrCapture c;
  stderr_capture_begin(&c);
  int rc = flags_parse(&f, argc, argv, 1);
  stderr_capture_end(&c, err, sizeof err);
  char want[300];
  snprintf(want, sizeof want, "error: %s:4: --gematria_learning_rate=fast: expected a number", bad);
  CHECK(rc == -1);
  CHECK_MSG(strstr(err, want) != NULL, "got: %s", err);
  flags_free(&f);
  /* the place is forgotten after parsing */
  stderr_capture_begin(&c);
  flags_init(&f);
  const char *argv3[] = {"granite", "--gematria_learning_rate=slow"};
  flags_parse(&f, 2, (char **)argv3, 1);
  stderr_capture_end(&c, err, sizeof err);
  CHECK_MSG(strstr(err, "error: --gematria_learning_rate=slow") != NULL, "got: %s", err);
  flags_free(&f);
  free(argv);
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/granite_flagfile_XXXXXX");
  if (!mkdtemp(dir)) return 1;
  test_expansion_in_place();
  test_bad_files();
  test_with_flag_parser();
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd)) return 1;
  return test_summary("test_flagfile");
}
