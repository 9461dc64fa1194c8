/* `granite --gematria_action=train|predict|eval FLAGS` (the reference log's
 * form, spec §6) and the aliases `granite train|predict|eval FLAGS`. */
#include <string.h>

#include "cli/commands.h"
#include "train/evaluate.h"
#include "train/flags.h"
#include "train/predict.h"
#include "train/trainer.h"
#include "util/common.h"

/* Parses argv[1..] and runs the action; forced_action < 0 = from the flag. */
static int run_action(int argc, char **argv, int forced_action) {
  GematriaFlags f;
  flags_init(&f);
  int rc = flags_parse(&f, argc, argv, 1);
  if (rc != 0) {
    flags_free(&f);
    return rc > 0 ? 0 : 2;
  }
  if (forced_action >= 0) {
    if (flags_was_set(&f, "gematria_action") && f.action != forced_action) {
      gr_error("--gematria_action=%s contradicts the command `granite %s`", flags_action_name(f.action), argv[0]);
      flags_free(&f);
      return 2;
    }
    f.action = forced_action;
  }
  int status;
  switch (f.action) {
    case ACTION_TRAIN: status = train_main(&f); break;
    case ACTION_PREDICT: status = predict_main(&f); break;
    case ACTION_EVAL: status = eval_main(&f); break;
    default:
      gr_warn("--gematria_action=EXPORT_GRAPH_DEF does nothing (as in Gematria): granite checkpoints are already "
              "self-contained");
      status = 0;
      break;
  }
  flags_free(&f);
  return status;
}

int cmd_gematria(int argc, char **argv) { return run_action(argc, argv, -1); }
int cmd_train(int argc, char **argv) { return run_action(argc, argv, ACTION_TRAIN); }
int cmd_predict(int argc, char **argv) {
  if (predict_block_requested(argc, argv)) return cmd_predict_block(argc, argv);
  int status = run_action(argc, argv, ACTION_PREDICT);
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h") || !strcmp(argv[i], "--helpfull")) predict_block_help();
  return status;
}
int cmd_eval(int argc, char **argv) { return run_action(argc, argv, ACTION_EVAL); }
