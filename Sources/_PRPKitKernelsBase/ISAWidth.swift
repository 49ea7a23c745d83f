// Per-ISA definitions for the shared kernel source (GEMMMicroKernel.swift).
// Baseline x86-64 (SSE2): a 8-float panel row is 2 xmm registers; 6×8 tile = 12 xmm accumulators.
// No `addingProduct` here: without an FMA ISA flag it becomes one libm fmaf call per lane.
public typealias Panel = SIMD8<Float>

@inline(__always)
func madd(_ a: Panel, _ b: Panel, _ c: Panel) -> Panel { a * b + c }

@inline(__always)
func madd16(_ a: SIMD16<Float>, _ b: SIMD16<Float>, _ c: SIMD16<Float>) -> SIMD16<Float> { a * b + c }
