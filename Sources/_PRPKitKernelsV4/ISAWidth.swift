// Per-ISA definitions for the shared kernel source (GEMMMicroKernel.swift).
// x86-64-v4 (AVX-512): a 64-float panel row is 4 zmm registers; 6×64 tile = 24 zmm accumulators.
// (SIMD64<Float> itself is lowered lane by lane by Swift 6.3, so the row is 4 × SIMD16.)
public struct Panel {
    @usableFromInline var a: SIMD16<Float>, b: SIMD16<Float>, c: SIMD16<Float>, d: SIMD16<Float>
    public static var scalarCount: Int { 64 }
    @inline(__always) init(_ a: SIMD16<Float>, _ b: SIMD16<Float>, _ c: SIMD16<Float>, _ d: SIMD16<Float>) {
        self.a = a; self.b = b; self.c = c; self.d = d
    }
    @inline(__always) public init() { self.init(.zero, .zero, .zero, .zero) }
    @inline(__always) public init(repeating v: Float) {
        let s = SIMD16<Float>(repeating: v)
        self.init(s, s, s, s)
    }
    @inline(__always) static func + (x: Panel, y: Panel) -> Panel { Panel(x.a + y.a, x.b + y.b, x.c + y.c, x.d + y.d) }
    @inline(__always) static func += (x: inout Panel, y: Panel) { x = x + y }
}

@inline(__always)
func madd(_ x: Panel, _ y: Panel, _ z: Panel) -> Panel {
    Panel(z.a.addingProduct(x.a, y.a), z.b.addingProduct(x.b, y.b),
          z.c.addingProduct(x.c, y.c), z.d.addingProduct(x.d, y.d))
}

@inline(__always)
func madd16(_ a: SIMD16<Float>, _ b: SIMD16<Float>, _ c: SIMD16<Float>) -> SIMD16<Float> { c.addingProduct(a, b) }
