// The graph layer builds on the kernels; its users see both.
@_exported import PRPKitKernels
