/// Namespace of the numerical kernels. Kernels take and return `Tensor`s whose shapes
/// were already checked by shape inference; they know nothing of graphs or rules.
/// Each kernel lives in a file named after it.
public enum Kernels {}
