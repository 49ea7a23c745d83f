// Per-ISA definitions for the shared kernel source (GEMMMicroKernel.swift).
// x86-64-v3 (AVX2 + FMA): a 16-float panel row is 2 ymm registers; 6×16 tile = 12 ymm accumulators.
public typealias Panel = SIMD16<Float>

@inline(__always)
func madd(_ a: Panel, _ b: Panel, _ c: Panel) -> Panel { c.addingProduct(a, b) }

@inline(__always)
func madd16(_ a: SIMD16<Float>, _ b: SIMD16<Float>, _ c: SIMD16<Float>) -> SIMD16<Float> { c.addingProduct(a, b) }
