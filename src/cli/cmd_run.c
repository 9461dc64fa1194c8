#include "cli/commands.h"
#include "util/common.h"

int cmd_gematria(int argc, char **argv) { gr_error("not implemented yet"); return 1; }
int cmd_train(int argc, char **argv) { gr_error("not implemented yet"); return 1; }
int cmd_predict(int argc, char **argv) { gr_error("not implemented yet"); return 1; }
int cmd_eval(int argc, char **argv) { gr_error("not implemented yet"); return 1; }
