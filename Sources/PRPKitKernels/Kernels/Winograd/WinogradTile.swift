/// One Winograd minimal-filtering variant F(m×m, 3×3): an m×m block of outputs of a 3×3
/// stride-1 convolution from an α×α input tile (α = m + 2) with α² multiplications per
/// input–output channel pair instead of 9·m².
///
/// y = Aᵀ·[(G·g·Gᵀ) ⊙ (Bᵀ·d·B)]·A for a 3×3 kernel g and an α×α input patch d (Toom–Cook
/// with interpolation points 0, ±1 for F(2×2); 0, ±3/2, ±2/3 for F(4×4), chosen for
/// float32 accuracy; 0, ±1, ±2, ±1/2 for F(6×6); and ∞). The input (Bᵀ, B) and
/// output (Aᵀ, A) transforms run in the ISA kernels (WinogradTransforms.swift); the kernel
/// transform G is applied here, once per weight, in float64 and rounded once.
package struct WinogradTile: Equatable {
    /// Output tile size: 2, 4 or 6.
    package let m: Int
    package var alpha: Int { m + 2 }

    static package let variants = [WinogradTile(m: 2), WinogradTile(m: 4), WinogradTile(m: 6)]

    /// G (α × 3), rows in the order of the transformed positions.
    package var g: [[Double]] {
        switch m {
        case 2: return [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]
        case 4: return [[1, 0, 0], [8.0 / 65, 12.0 / 65, 18.0 / 65], [8.0 / 65, -12.0 / 65, 18.0 / 65],
                        [-81.0 / 130, -27.0 / 65, -18.0 / 65], [-81.0 / 130, 27.0 / 65, -18.0 / 65], [0, 0, 1]]
        default: return [[1, 0, 0], [-2.0 / 9, -2.0 / 9, -2.0 / 9], [-2.0 / 9, 2.0 / 9, -2.0 / 9],
                         [1.0 / 90, 1.0 / 45, 2.0 / 45], [1.0 / 90, -1.0 / 45, 2.0 / 45],
                         [32.0 / 45, 16.0 / 45, 8.0 / 45], [32.0 / 45, -16.0 / 45, 8.0 / 45], [0, 0, 1]]
        }
    }

    /// Bᵀ (α × α): the input transform V = Bᵀ·d·B (as the ISA kernels compute it, factored).
    package var bt: [[Double]] {
        switch m {
        case 2: return [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
        case 4: return [[1, 0, -97.0 / 36, 0, 1, 0], [0, -2.0 / 3, -4.0 / 9, 1.5, 1, 0], [0, 2.0 / 3, -4.0 / 9, -1.5, 1, 0],
                        [0, -1.5, -2.25, 2.0 / 3, 1, 0], [0, 1.5, -2.25, -2.0 / 3, 1, 0], [0, 1, 0, -97.0 / 36, 0, 1]]
        default: return [[1, 0, -5.25, 0, 5.25, 0, -1, 0], [0, 1, 1, -4.25, -4.25, 1, 1, 0],
                         [0, -1, 1, 4.25, -4.25, -1, 1, 0], [0, 0.5, 0.25, -2.5, -1.25, 2, 1, 0],
                         [0, -0.5, 0.25, 2.5, -1.25, -2, 1, 0], [0, 2, 4, -2.5, -5, 0.5, 1, 0],
                         [0, -2, 4, 2.5, -5, -0.5, 1, 0], [0, -1, 0, 5.25, 0, -5.25, 0, 1]]
        }
    }

    /// Aᵀ (m × α): the output transform Y = Aᵀ·M·A.
    package var at: [[Double]] {
        switch m {
        case 2: return [[1, 1, 1, 0], [0, 1, -1, -1]]
        case 4: return [[1, 1, 1, 1, 1, 0], [0, 1.5, -1.5, 2.0 / 3, -2.0 / 3, 0], [0, 2.25, 2.25, 4.0 / 9, 4.0 / 9, 0],
                        [0, 3.375, -3.375, 8.0 / 27, -8.0 / 27, 1]]
        default: return [[1, 1, 1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0.5, -0.5, 0], [0, 1, 1, 4, 4, 0.25, 0.25, 0],
                         [0, 1, -1, 8, -8, 0.125, -0.125, 0], [0, 1, 1, 16, 16, 0.0625, 0.0625, 0],
                         [0, 1, -1, 32, -32, 0.03125, -0.03125, 1]]
        }
    }

    /// Floats of the transformed, packed weights of a (cout, cin, 3, 3) kernel.
    package func transformedWeightFloats(cout: Int, cin: Int, tilesAsRows: Bool, kernels ks: GEMMKernelSet) -> Int {
        let tile = tilesAsRows ? ks.nr : ks.mr
        return alpha * alpha * ((cout + tile - 1) / tile * tile) * cin
    }

    /// U_ξ = (G·g·Gᵀ)_ξ for every output/input channel pair of `weight` (cout, cin, 3, 3),
    /// written as α² packed A operands (cout × cin, mr-row slivers, kc-blocks of input
    /// channels): matrix ξ at ξ·mPad·cin, block pc at +mPad·pc, as `packA` lays it out —
    /// or with `tilesAsRows` as α² packed B operands U_ξᵀ (cin × cout, nr-column strips),
    /// as `packB` lays them out.
    package func packTransformedWeights(_ weight: Tensor, tilesAsRows: Bool, kernels ks: GEMMKernelSet,
                                into dst: UnsafeMutablePointer<Float>) {
        let (co, ci) = (weight.shape[0], weight.shape[1])
        let a = alpha, a2 = a * a, kcB = GEMMBlocking.kc
        let tile = tilesAsRows ? ks.nr : ks.mr
        let pad = (co + tile - 1) / tile * tile
        dst.initialize(repeating: 0, count: a2 * pad * ci)
        let gFlat = g.flatMap { $0 }, wp = UnsafePointer(weight.data)
        gFlat.withUnsafeBufferPointer { gb in
            let gm = gb.baseAddress!  // G row r at gm[3r]
            Parallel.forRanges(co) { outs in
                withUnsafeTemporaryAllocation(of: Double.self, capacity: a * 3) { tb in
                    let t = tb.baseAddress!
                    for o in outs {
                        for i in 0..<ci {
                            let k = wp + (o * ci + i) * 9
                            // t = G·k (α × 3), then U = t·Gᵀ (α × α), in float64.
                            for r in 0..<a {
                                let g0 = gm[3 * r], g1 = gm[3 * r + 1], g2 = gm[3 * r + 2]
                                for c in 0..<3 { t[r * 3 + c] = g0 * Double(k[c]) + g1 * Double(k[3 + c]) + g2 * Double(k[6 + c]) }
                            }
                            let pc = i / kcB * kcB, kcb = min(kcB, ci - pc)
                            // Element (o, i) of U_ξ: packed A (row o, column i), or packed B of U_ξᵀ
                            // (row i, column o).
                            let out = dst + pad * pc + (o / tile) * tile * kcb + (i - pc) * tile + o % tile
                            for r in 0..<a {
                                let t0 = t[r * 3], t1 = t[r * 3 + 1], t2 = t[r * 3 + 2]
                                for c in 0..<a {
                                    out[(r * a + c) * pad * ci] = Float(t0 * gm[3 * c] + t1 * gm[3 * c + 1] + t2 * gm[3 * c + 2])
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
