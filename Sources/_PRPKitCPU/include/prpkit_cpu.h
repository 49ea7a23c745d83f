#ifndef PRPKIT_CPU_H
#define PRPKIT_CPU_H
/* Run-time ISA detection for choosing a kernel variant. Internal to prpkit. */
#ifdef __cplusplus
extern "C" {
#endif
/* 2 = x86-64-v4 (AVX-512 F/BW/DQ/VL), 1 = x86-64-v3 (AVX2 + FMA), 0 = baseline.
 * Hidden: libprpkit.so exports only the functions of include/prpkit.h. */
__attribute__((visibility("hidden"))) int prpkit_cpu_isa_level(void);
#ifdef __cplusplus
}
#endif
#endif
