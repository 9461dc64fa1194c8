/* Register families: which register names share one physical register. */
#ifndef GRANITE_GRAPH_REGISTER_FAMILY_H
#define GRANITE_GRAPH_REGISTER_FAMILY_H

#define REGISTER_FAMILY_VECTOR 16 /* XMMn/YMMn/ZMMn are family 16 + n */

/* The family of a register name as the canonicalizer spells it ("EAX",
 * "R9D", "YMM3"): 0-15 for the general-purpose registers (RAX = 0 ... R15 =
 * 15, by encoding), 16 + n for vector register n; -1 for any other register
 * (flags, segment, x87, mask...), which aliases only its exact name. */
int register_family(const char *name);

#endif
