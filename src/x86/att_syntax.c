#include "x86/att_syntax.h"

#include <stdio.h>
#include <string.h>

void att_formatter_init(ZydisFormatter *f) {
  ZydisFormatterInit(f, ZYDIS_FORMATTER_STYLE_ATT);
  ZydisFormatterSetProperty(f, ZYDIS_FORMATTER_PROP_DISP_BASE, ZYDIS_NUMERIC_BASE_DEC);
  ZydisFormatterSetProperty(f, ZYDIS_FORMATTER_PROP_IMM_BASE, ZYDIS_NUMERIC_BASE_DEC);
  ZydisFormatterSetProperty(f, ZYDIS_FORMATTER_PROP_IMM_SIGNEDNESS, ZYDIS_SIGNEDNESS_SIGNED);
  ZydisFormatterSetProperty(f, ZYDIS_FORMATTER_PROP_DISP_PADDING, ZYDIS_PADDING_DISABLED);
  ZydisFormatterSetProperty(f, ZYDIS_FORMATTER_PROP_IMM_PADDING, ZYDIS_PADDING_DISABLED);
  ZydisFormatterSetProperty(f, ZYDIS_FORMATTER_PROP_FORCE_RELATIVE_BRANCHES, ZYAN_TRUE);
}

static int is_gpr(ZydisRegister r) {
  ZydisRegisterClass c = ZydisRegisterGetClass(r);
  return c == ZYDIS_REGCLASS_GPR8 || c == ZYDIS_REGCLASS_GPR16 || c == ZYDIS_REGCLASS_GPR32 ||
         c == ZYDIS_REGCLASS_GPR64;
}

/* LLVM's AT&T printer spells general-purpose integer instructions with a
 * size suffix (subq, movl, pushq); SSE/AVX/x87 and branches have none. */
static char size_suffix(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops) {
  if (in->encoding != ZYDIS_INSTRUCTION_ENCODING_LEGACY) return 0;
  if (in->meta.isa_ext != ZYDIS_ISA_EXT_BASE && in->meta.isa_ext != ZYDIS_ISA_EXT_LONGMODE)
    return 0;
  switch (in->meta.category) {
  case ZYDIS_CATEGORY_COND_BR: case ZYDIS_CATEGORY_UNCOND_BR: case ZYDIS_CATEGORY_SETCC:
  case ZYDIS_CATEGORY_STRINGOP: case ZYDIS_CATEGORY_NOP:
    return 0;
  default:
    break;
  }
  if (in->mnemonic == ZYDIS_MNEMONIC_MOVZX || in->mnemonic == ZYDIS_MNEMONIC_MOVSX ||
      in->mnemonic == ZYDIS_MNEMONIC_MOVSXD)
    return 0;
  if (in->operand_count_visible == 0) return 0;
  for (int i = 0; i < in->operand_count_visible; i++)
    if (ops[i].type == ZYDIS_OPERAND_TYPE_REGISTER && !is_gpr(ops[i].reg.value)) return 0;
  switch (in->operand_width) {
  case 8: return 'b';
  case 16: return 'w';
  case 32: return 'l';
  case 64: return 'q';
  default: return 0;
  }
}

void att_format(const ZydisFormatter *f, const ZydisDecodedInstruction *in,
                const ZydisDecodedOperand *ops, uint64_t address, char *out, size_t size) {
  char text[128];
  if (!ZYAN_SUCCESS(ZydisFormatterFormatInstruction(f, in, ops, in->operand_count_visible, text,
                                                    sizeof text, address, NULL))) {
    snprintf(out, size, "\t(bad)");
    return;
  }
  /* Find the mnemonic word: the first one after the prefixes. */
  const char *m = ZydisMnemonicGetString(in->mnemonic);
  char *start = m ? strstr(text, m) : NULL;
  if (!start) start = text;
  /* Zydis's AT&T style adds its own suffix to some mnemonics (movssl):
   * keep the plain mnemonic and add LLVM's suffix where it has one. */
  char *end = start + strcspn(start, " ");
  char *rest = end;
  if (m && (size_t)(end - start) > strlen(m) && strncmp(start, m, strlen(m)) == 0)
    end = start + strlen(m);
  char suffix = size_suffix(in, ops);
  snprintf(out, size, "\t%.*s%.*s%s%s", (int)(start - text), text, (int)(end - start), start,
           suffix ? (char[]){suffix, 0} : "", *rest ? "\t" : "");
  size_t used = strlen(out);
  if (*rest && used < size) snprintf(out + used, size - used, "%s", rest + 1);
}
