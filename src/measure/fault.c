/* Classification of a child's end (fault.h). The signal and its si_code say
 * what the CPU raised; where rip points says which instruction of the block
 * did it, and for a general-protection fault (no address given by the
 * kernel) the instruction itself tells a privileged instruction from a bad
 * memory operand. */
#include "measure/fault.h"

#include <Zydis/Zydis.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "measure/layout.h"
#include "x86/canonicalize.h"

#ifndef SI_KERNEL
#define SI_KERNEL 0x80
#endif

/* Index of the block's copy that holds rip (-1 if none) and the offset of
 * rip inside the block. */
static int locate(const CodeMap *m, uint64_t rip, size_t *offset) {
  for (int f = FN_BLOCK_SMALL; f <= FN_BLOCK_LARGE; f++)
    if (rip >= m->body_start[f] && rip < m->body_end[f]) {
      *offset = (size_t)((rip - m->body_start[f]) % m->block_len);
      return f;
    }
  return -1;
}

/* The instruction of the block at byte offset off: its index, text and
 * Zydis decoding. 0, or -1 if off is not an instruction start. */
static int instruction_at(const CodeMap *m, size_t off, int *index, char *text, size_t text_size,
                          ZydisDecodedInstruction *insn, ZydisDecodedOperand *ops) {
  ZydisDecoder dec;
  ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  size_t at = 0;
  for (int i = 0; at < m->block_len; i++) {
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, m->block + at, m->block_len - at, insn, ops))) return -1;
    if (at == off) {
      *index = i;
      if (x86_format_intel(m->block + at, m->block_len - at, 0, text, text_size) < 0) snprintf(text, text_size, "?");
      return 0;
    }
    at += insn->length;
  }
  return -1;
}

/* The instruction of the block that ends at byte offset end. */
static int instruction_ending_at(const CodeMap *m, size_t end, int *index, char *text, size_t text_size,
                                 ZydisDecodedInstruction *insn, ZydisDecodedOperand *ops) {
  ZydisDecoder dec;
  ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  size_t at = 0;
  for (int i = 0; at < m->block_len; i++) {
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, m->block + at, m->block_len - at, insn, ops))) return -1;
    if (at + insn->length == end) return instruction_at(m, at, index, text, text_size, insn, ops);
    at += insn->length;
  }
  return -1;
}

static int has_memory_operand(const ZydisDecodedInstruction *insn, const ZydisDecodedOperand *ops) {
  for (int i = 0; i < insn->operand_count; i++)
    if (ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY && ops[i].mem.type == ZYDIS_MEMOP_TYPE_MEM) return 1;
  return 0;
}

static int is_interrupt(ZydisMnemonic m) {
  return m == ZYDIS_MNEMONIC_INT || m == ZYDIS_MNEMONIC_INTO || m == ZYDIS_MNEMONIC_INT1 || m == ZYDIS_MNEMONIC_INT3;
}

static const char *signal_name(int signo) {
  switch (signo) {
  case SIGSEGV: return "SIGSEGV";
  case SIGBUS: return "SIGBUS";
  case SIGILL: return "SIGILL";
  case SIGFPE: return "SIGFPE";
  case SIGTRAP: return "SIGTRAP";
  case SIGSYS: return "SIGSYS";
  case SIGXCPU: return "SIGXCPU";
  case SIGKILL: return "SIGKILL";
  default: return "signal";
  }
}

static ChildOutcome failed(MeasureStatus s, MeasureStatus *status, char *detail, size_t size, const char *fmt,
                           const char *a, unsigned long long x, const char *where) {
  *status = s;
  char what[160];
  snprintf(what, sizeof what, fmt, a, x);
  snprintf(detail, size, "%s%s", what, where);
  return CHILD_FAILED;
}

ChildOutcome fault_classify(const HarnessReport *rep, const SandboxEnd *end, const CodeMap *m, uint64_t *page,
                            MeasureStatus *status, char *detail, size_t size) {
  if (end->timed_out) return failed(MEASURE_TIMEOUT, status, detail, size, "%skilled after the wall-clock limit", "", 0, "");
  if (rep->state == REPORT_DONE && end->exited && end->exit_code == HARNESS_EXIT_DONE) return CHILD_DONE;
  if (rep->state == REPORT_SETUP_FAILED)
    return failed(MEASURE_HARNESS_ERROR, status, detail, size, "%s", rep->detail, 0, "");
  if (rep->state == REPORT_UNMAPPABLE)
    return failed(MEASURE_UNMAPPABLE_ADDRESS, status, detail, size, "%s", rep->detail, 0, "");
  if (rep->state != REPORT_FAULT) {
    if (end->signaled && end->signo == SIGXCPU)
      return failed(MEASURE_TIMEOUT, status, detail, size, "%sCPU time limit", "", 0, "");
    if (end->signaled)
      return failed(MEASURE_CRASHED, status, detail, size, "killed by %s (%llu) without a report",
                    signal_name(end->signo), (unsigned long long)end->signo, "");
    return failed(MEASURE_CRASHED, status, detail, size, "%sexit status %llu without a report", "",
                  (unsigned long long)end->exit_code, "");
  }

  /* A signal: which instruction? */
  char where[128] = "", text[80] = "?";
  int index = -1;
  size_t off = 0;
  ZydisDecodedInstruction insn;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
  int in_block = locate(m, rep->rip, &off) >= 0;
  int known = 0;
  if (in_block && (rep->signo == SIGTRAP || rep->signo == SIGSYS)) {
    /* traps and system calls report the address after the instruction */
    known = instruction_ending_at(m, off ? off : m->block_len, &index, text, sizeof text, &insn, ops) == 0;
  } else if (in_block) {
    known = instruction_at(m, off, &index, text, sizeof text, &insn, ops) == 0;
  }
  if (known) snprintf(where, sizeof where, " at instruction %d (%s)", index, text);
  else if (in_block) snprintf(where, sizeof where, " at byte %zu of the block", off);
  else snprintf(where, sizeof where, " at rip %#llx, outside the block", (unsigned long long)rep->rip);
  uint64_t addr = rep->addr;

  switch (rep->signo) {
  case SIGSYS:
    return failed(MEASURE_SYSTEM_CALL, status, detail, size, "%ssystem call %llu stopped by seccomp", "",
                  (unsigned long long)rep->syscall_nr, where);
  case SIGILL:
    if (!in_block) return failed(MEASURE_LEFT_BLOCK, status, detail, size, "%sSIGILL", "", 0, where);
    return failed(MEASURE_ILLEGAL_INSTRUCTION, status, detail, size, "%sSIGILL", "", 0, where);
  case SIGFPE:
    /* Linux reports every #DE as FPE_INTDIV: zero divisor and quotient
     * overflow look the same */
    if (rep->si_code == FPE_INTDIV || rep->si_code == FPE_INTOVF)
      return failed(MEASURE_DIVISION_ERROR, status, detail, size,
                    "%sSIGFPE (divide error: zero divisor or quotient overflow)", "", 0, where);
    return failed(MEASURE_FP_EXCEPTION, status, detail, size, "%sSIGFPE (si_code %llu)", "",
                  (unsigned long long)rep->si_code, where);
  case SIGTRAP:
    return failed(MEASURE_BREAKPOINT, status, detail, size, "%sSIGTRAP", "", 0, where);
  case SIGXCPU:
    return failed(MEASURE_TIMEOUT, status, detail, size, "%sCPU time limit", "", 0, "");
  case SIGBUS:
    return failed(MEASURE_BAD_ADDRESS, status, detail, size, "%sSIGBUS at %#llx", "", (unsigned long long)addr, where);
  case SIGSEGV:
    break;
  default:
    return failed(MEASURE_CRASHED, status, detail, size, "%s %llu", signal_name(rep->signo),
                  (unsigned long long)rep->signo, where);
  }

  /* SIGSEGV */
  if (!in_block) {
    /* fetching from a data page (jump into data) or from an unmapped address */
    if (rep->rip == addr || rep->rip < MEASURE_CODE_ADDR || rep->rip >= m->code_end)
      return failed(MEASURE_LEFT_BLOCK, status, detail, size, "%sSIGSEGV at %#llx", "", (unsigned long long)addr, where);
    return failed(MEASURE_CRASHED, status, detail, size, "%sSIGSEGV at %#llx in the harness's own code", "",
                  (unsigned long long)addr, where);
  }
  if (rep->si_code == SI_KERNEL) { /* #GP: no address from the kernel */
    if (known && is_interrupt(insn.mnemonic))
      return failed(MEASURE_PRIVILEGED, status, detail, size, "%sgeneral protection (interrupt instruction)", "", 0, where);
    if (known && (insn.attributes & ZYDIS_ATTRIB_IS_PRIVILEGED))
      return failed(MEASURE_PRIVILEGED, status, detail, size, "%sgeneral protection (privileged instruction)", "", 0, where);
    if (known && has_memory_operand(&insn, ops))
      return failed(MEASURE_BAD_ADDRESS, status, detail, size,
                    "%sgeneral protection (non-canonical or misaligned address)", "", 0, where);
    return failed(MEASURE_PRIVILEGED, status, detail, size, "%sgeneral protection", "", 0, where);
  }
  if (rep->si_code == SEGV_ACCERR) {
    if (addr >= MEASURE_CODE_ADDR && addr < m->code_end)
      return failed(MEASURE_SELF_MODIFYING, status, detail, size, "%sstore into the block's code at %#llx", "",
                    (unsigned long long)addr, where);
    return failed(MEASURE_UNMAPPABLE_ADDRESS, status, detail, size, "%sprotected memory at %#llx", "",
                  (unsigned long long)addr, where);
  }
  if (addr < FAULT_LOWEST_MAPPABLE || addr >= FAULT_USER_END)
    return failed(MEASURE_UNMAPPABLE_ADDRESS, status, detail, size, "%sfault at %#llx (cannot be mapped)", "",
                  (unsigned long long)addr, where);
  *page = addr & ~(uint64_t)(MEASURE_PAGE_SIZE - 1);
  return CHILD_NEEDS_PAGE;
}
