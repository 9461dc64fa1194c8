/* Fixed addresses and values of the measurement sandbox (BHive's scheme:
 * every register points into one mapped region, every data page is the same
 * physical page, so loads and stores hit L1). Chosen far from where Linux
 * puts the program, its heap, libraries and stack, so that the block's
 * pages never collide with the harness. */
#ifndef GRANITE_MEASURE_LAYOUT_H
#define GRANITE_MEASURE_LAYOUT_H

#include <stdint.h>

#define MEASURE_PAGE_SIZE 4096u

/* Every general-purpose register (rsp included) starts here, and every
 * 8-byte word of the data page holds this value, so a pointer loaded from
 * memory points back into mapped memory. Below 2^31 so that 32-bit loads
 * and 32-bit address arithmetic give the same address; as a float it is a
 * normal number (2.5e-29). */
#define MEASURE_INIT_VALUE 0x10000800ull

/* Control page: the vector register pattern, MXCSR, the harness's saved
 * stack pointer. More than 2 GiB away from the code, so no RIP-relative
 * operand of a block can reach it. */
#define MEASURE_CTRL_ADDR 0x1ff000000000ull
#define MEASURE_CTRL_VECTOR 0   /* 64 bytes: every 32-bit lane 1.0f */
#define MEASURE_CTRL_MXCSR 64   /* 0x1f80: the Linux default */
#define MEASURE_CTRL_SAVED_RSP 128

/* Shared report page (worker <-> child), see harness.h. */
#define MEASURE_REPORT_ADDR 0x1ff000200000ull

/* The generated code: four functions (calibration and block, two unroll
 * factors each), each starting on its own page. */
#define MEASURE_CODE_ADDR 0x200000000000ull
#define MEASURE_CODE_MAX (64u << 20)

/* A fault at an address in [MEASURE_CODE_ADDR, +MEASURE_CODE_MAX) that is
 * mapped is a store into the block's own code. */

#endif
