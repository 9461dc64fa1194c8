/* The name of this CPU for the throughput source of measured labels:
 * "AMD EPYC (znver5)" — /proc/cpuinfo's model name and, where the family
 * and model tell it, the -march name of its core. */
#ifndef GRANITE_MEASURE_CPU_NAME_H
#define GRANITE_MEASURE_CPU_NAME_H

#include <stddef.h>

/* The core's -march name from the vendor, family and model of
 * /proc/cpuinfo, or NULL if not known (e.g. "znver4" for AMD 25/0x11). */
const char *cpu_march_name(const char *vendor, int family, int model);

/* Writes "MODEL NAME (march)" or "MODEL NAME" for cpuinfo_path (normally
 * /proc/cpuinfo) into out; "unknown CPU" if the file cannot be read. */
void cpu_describe(const char *cpuinfo_path, char *out, size_t size);

#endif
