// Filled by the GEMM micro-kernel work.
public enum KernelsBasePlaceholder {}
