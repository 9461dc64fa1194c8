/* Zydis registers spelled as LLVM names them (spec §2.3: upper case, EFLAGS,
 * FPSW, FPCW, ST0...). */
#ifndef GRANITE_X86_REGISTERS_H
#define GRANITE_X86_REGISTERS_H

#include <Zydis/Zydis.h>

/* Writes LLVM's name of reg into buf (at least 16 bytes) and returns buf, or
 * returns NULL for ZYDIS_REGISTER_NONE. All flags registers (FLAGS, EFLAGS,
 * RFLAGS) are LLVM's single EFLAGS; the x87 status and control words are FPSW
 * and FPCW. */
const char *llvm_register_name(ZydisRegister reg, char *buf);

/* True for the flags registers (FLAGS, EFLAGS, RFLAGS). */
int is_flags_register(ZydisRegister reg);

/* True for x87 stack registers ST0..ST7. */
int is_x87_stack_register(ZydisRegister reg);

#endif
