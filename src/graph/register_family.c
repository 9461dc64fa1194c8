/* Architectural register families for --granite_register_aliasing: every
 * name that reads or writes part of the same physical register maps to one
 * id, so that a write of RAX is seen by a later read of EAX or AL. */
#include "graph/register_family.h"

#include <stdlib.h>
#include <string.h>

/* The legacy GPRs in encoding order, with their 32/16/8-bit names. */
static const char *const gpr_names[8][5] = {
    {"RAX", "EAX", "AX", "AL", "AH"}, {"RCX", "ECX", "CX", "CL", "CH"}, {"RDX", "EDX", "DX", "DL", "DH"},
    {"RBX", "EBX", "BX", "BL", "BH"}, {"RSP", "ESP", "SP", "SPL", ""},   {"RBP", "EBP", "BP", "BPL", ""},
    {"RSI", "ESI", "SI", "SIL", ""},  {"RDI", "EDI", "DI", "DIL", ""},
};

/* Parses a decimal register number of at most two digits ending the name. */
static int parse_number(const char *s, const char **end) {
  if (s[0] < '0' || s[0] > '9') return -1;
  int n = s[0] - '0';
  s++;
  if (*s >= '0' && *s <= '9') n = n * 10 + (*s++ - '0');
  *end = s;
  return n;
}

int register_family(const char *name) {
  if (!name) return -1;
  for (int r = 0; r < 8; r++)
    for (int k = 0; k < 5; k++)
      if (gpr_names[r][k][0] && strcmp(name, gpr_names[r][k]) == 0) return r;
  const char *end;
  if (name[0] == 'R') { /* R8..R15 with the D/W/B suffixes */
    int n = parse_number(name + 1, &end);
    if (n >= 8 && n <= 15 && (!*end || ((end[0] == 'D' || end[0] == 'W' || end[0] == 'B') && !end[1]))) return n;
    return -1;
  }
  if ((name[0] == 'X' || name[0] == 'Y' || name[0] == 'Z') && strncmp(name + 1, "MM", 2) == 0) {
    int n = parse_number(name + 3, &end);
    if (n >= 0 && n < 32 && !*end) return REGISTER_FAMILY_VECTOR + n;
  }
  return -1;
}
