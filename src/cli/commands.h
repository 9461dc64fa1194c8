/* Every `granite` sub-command: int cmd_X(int argc, char **argv), where
 * argv[0] is the command name. Returns the process exit status. */
#ifndef GRANITE_CLI_COMMANDS_H
#define GRANITE_CLI_COMMANDS_H

int cmd_import_bhive(int argc, char **argv);
int cmd_tokens(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_stats(int argc, char **argv);
/* Gematria-style run: `granite --gematria_action=train|predict|eval ...` */
int cmd_gematria(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_extract(int argc, char **argv);
int cmd_filter(int argc, char **argv);
int cmd_cost(int argc, char **argv);
/* `granite predict --asm|--asm-file|--hex`: one block (cmd_predict_block.c) */
int predict_block_requested(int argc, char **argv);
int cmd_predict_block(int argc, char **argv);
void predict_block_help(void);

#endif
