#include "x86/registers.h"

#include <ctype.h>

int is_flags_register(ZydisRegister reg) {
  return reg == ZYDIS_REGISTER_FLAGS || reg == ZYDIS_REGISTER_EFLAGS ||
         reg == ZYDIS_REGISTER_RFLAGS;
}

int is_x87_stack_register(ZydisRegister reg) {
  return reg >= ZYDIS_REGISTER_ST0 && reg <= ZYDIS_REGISTER_ST7;
}

const char *llvm_register_name(ZydisRegister reg, char *buf) {
  if (reg == ZYDIS_REGISTER_NONE) return NULL;
  const char *name;
  if (is_flags_register(reg)) {
    name = "EFLAGS"; /* LLVM models one flags register, EFLAGS */
  } else if (reg == ZYDIS_REGISTER_X87STATUS) {
    name = "FPSW";
  } else if (reg == ZYDIS_REGISTER_X87CONTROL) {
    name = "FPCW";
  } else if (reg == ZYDIS_REGISTER_X87TAG) {
    name = "FPTW";
  } else {
    name = ZydisRegisterGetString(reg);
    if (!name) return NULL;
  }
  /* Zydis spells registers in lower case; LLVM's names are the same letters
   * upper-cased for every register class x86-64 code uses. */
  int i = 0;
  for (; name[i] && i < 15; i++) buf[i] = (char)toupper((unsigned char)name[i]);
  buf[i] = '\0';
  return buf;
}
