#include "cli/commands.h"
#include "util/common.h"

int cmd_tokens(int argc, char **argv) {
  gr_error("%s: not implemented yet", argv[0]);
  return 1;
}
