/// How a convolution's weights are laid out for the kernel that uses them
/// (`Kernels.conv2dWeightLayout` says which one a convolution wants).
public enum ConvWeightLayout: Hashable, Sendable, CustomStringConvertible {
    /// Per group, the (Cout/groups × K) matrix as the packed A operand of the implicit-GEMM
    /// convolution, K = Cin/groups·kH·kW (kc-block pc at offset mPad·pc).
    case direct
    /// Per group, Wᵀ (K × Cout/groups) as the packed B operand, kc-block pc at offset
    /// nPad·pc: the small-map path (output channels as the vector dimension).
    case transposed
    /// Winograd F(m×m, 3×3): for each of the α² = (m + 2)² transformed positions ξ, the
    /// (Cout × Cin) matrix U_ξ = (G·g·Gᵀ)_ξ as a packed A operand — or, with `tilesAsRows`
    /// (few tiles per image), U_ξᵀ as a packed B operand (ungrouped 3×3 only).
    case winograd(m: Int, tilesAsRows: Bool)

    public var description: String {
        switch self {
        case .direct: return "direct"
        case .transposed: return "direct (transposed)"
        case .winograd(let m, let rows): return "winograd F(\(m)x\(m),3x3)" + (rows ? " (tiles as rows)" : "")
        }
    }

    /// Suffix of a cache key, distinct per layout.
    package var cacheSuffix: String {
        switch self {
        case .direct: return ""
        case .transposed: return "\u{1}T"
        case .winograd(let m, let rows): return "\u{1}W\(m)" + (rows ? "T" : "")
        }
    }
}

/// A convolution's weights prepared for the kernels of one ISA level, in one
/// `ConvWeightLayout`. Immutable after construction; safe to share between threads. Made
/// from weights that do not change afterwards (a graph's parameters, a rule's W⁺).
public final class PackedConvWeights: @unchecked Sendable {
    package let level: Int, mr: Int, nr: Int, kc: Int
    package let shape: [Int]
    package let groups: Int
    public let layout: ConvWeightLayout
    /// From `TensorPool` (64-byte aligned; large packings are their own mappings, so a
    /// packing made for one layer call leaves no hole in the malloc heap when it goes).
    package let pointer: UnsafeMutablePointer<Float>
    package let count: Int

    /// Packs `weight` (Cout, Cin/groups, kH, kW) for the current kernel set in `layout`
    /// (as `Kernels.conv2dWeightLayout` says for the input shape).
    public convenience init(weight: Tensor, groups: Int, layout: ConvWeightLayout) {
        self.init(weight: weight, groups: groups, layout: layout, kernels: GEMMKernelSet.current)
    }

    package init(weight: Tensor, groups: Int, layout: ConvWeightLayout, kernels ks: GEMMKernelSet) {
        level = ks.level; mr = ks.mr; nr = ks.nr; kc = GEMMBlocking.kc
        shape = weight.shape
        self.groups = groups
        self.layout = layout
        count = max(PackedConvWeights.floats(weight.shape, groups: groups, layout: layout, kernels: ks), 16)
        pointer = TensorPool.take(count)
        if MemoryTrace.enabled { MemoryTrace.packedBytes.withLock { $0 += count * 4 } }
        switch layout {
        case .direct, .transposed:
            PackedConvWeights.pack(weight, groups: groups, transposed: layout == .transposed, kernels: ks, into: pointer)
        case .winograd(let m, let rows):
            WinogradTile(m: m).packTransformedWeights(weight, tilesAsRows: rows, kernels: ks, into: pointer)
        }
    }

    /// The positive part max(W, 0) (or the negative part min(W, 0)) of every packed float
    /// of `other`, which is in a GEMM layout (direct or transposed): the packing of W⁺ (W⁻),
    /// because such a packing only moves floats and pads with zeros, which both parts keep.
    /// Lets a rule's weight exist only while one layer call runs, made from the graph's
    /// stored packing. (A Winograd packing holds transformed weights, for which this would
    /// be wrong.) The two parts are spelled out rather than taken as a closure so that the
    /// loop vectorises whichever module calls it.
    package init(signPart other: PackedConvWeights, positive: Bool) {
        precondition(other.layout == .direct || other.layout == .transposed,
                     "prpkit: only a direct or transposed packing can be split by sign")
        level = other.level; mr = other.mr; nr = other.nr; kc = other.kc
        shape = other.shape; groups = other.groups; layout = other.layout; count = other.count
        pointer = TensorPool.take(count)
        if MemoryTrace.enabled { MemoryTrace.packedBytes.withLock { $0 += count * 4 } }
        let src = UnsafePointer(other.pointer), dst = pointer
        Parallel.forRanges(count, minChunk: 1 << 15) { r in
            if positive {
                for i in r { dst[i] = Swift.max(src[i], 0) }
            } else {
                for i in r { dst[i] = Swift.min(src[i], 0) }
            }
        }
    }

    /// The packing, in `layout` (direct or transposed) for the kernel set `ks`, of the
    /// flipped, transposed kernel of `w` (Cout, Cin, kH, kW): the floats of
    /// `PackedConvWeights(weight: Kernels.flippedTransposedKernel(w), groups: 1, layout:)`,
    /// gathered in one pass that writes the packing in order (the flip alone scatters its
    /// writes a channel stride apart, which costs more than packing). Lets a backward
    /// pass through a stride-1 convolution use a packing that exists only for that call.
    package init(flippedTransposedOf w: Tensor, layout: ConvWeightLayout, kernels ks: GEMMKernelSet) {
        precondition(layout == .direct || layout == .transposed, "prpkit: a flipped kernel packs in a GEMM layout")
        let (co, ci, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
        level = ks.level; mr = ks.mr; nr = ks.nr; kc = GEMMBlocking.kc
        shape = [ci, co, kh, kw]; groups = 1; self.layout = layout
        count = max(PackedConvWeights.floats(shape, groups: 1, layout: layout, kernels: ks), 16)
        pointer = TensorPool.take(count)
        if MemoryTrace.enabled { MemoryTrace.packedBytes.withLock { $0 += count * 4 } }
        let taps = kh * kw, kT = co * taps
        if ci == 0 || kT == 0 { return }
        let tile = layout == .transposed ? nr : mr
        let pad = (ci + tile - 1) / tile * tile, panels = pad / tile, blocks = (kT + kc - 1) / kc
        let src = UnsafePointer(w.data), dst = pointer, kcB = kc
        Parallel.forEach(blocks * panels) { job in
            let pc = (job / panels) * kcB, s = job % panels, kcb = Swift.min(kcB, kT - pc)
            let d = dst + pad * pc + s * tile * kcb
            let rows = Swift.min(tile, ci - s * tile)
            for kk in 0..<kcb {
                // Column (o, ky, kx) of row c is W[o][c][kh − 1 − ky][kw − 1 − kx].
                let kt = pc + kk, o = kt / taps, r = kt % taps
                let tap = (kh - 1 - r / kw) * kw + (kw - 1 - r % kw)
                let column = src + (o * ci + s * tile) * taps + tap
                let row = d + kk * tile
                for i in 0..<rows { row[i] = column[i * taps] }
                for i in rows..<tile { row[i] = 0 }
            }
        }
    }

    deinit {
        if MemoryTrace.enabled { MemoryTrace.packedBytes.withLock { $0 -= count * 4 } }
        TensorPool.give(pointer, count: count)
    }

    /// Whether this packing was made from a weight of `weight`'s shape with `groups`, in
    /// `layout`, for the kernel set `ks` (same ISA level, register tile, kc blocking).
    package func matches(_ weight: Tensor, groups: Int, layout: ConvWeightLayout, kernels ks: GEMMKernelSet) -> Bool {
        matches(weight.shape, groups: groups, layout: layout, kernels: ks)
    }

    package func matches(_ weightShape: [Int], groups: Int, layout: ConvWeightLayout, kernels ks: GEMMKernelSet) -> Bool {
        level == ks.level && mr == ks.mr && nr == ks.nr && kc == GEMMBlocking.kc && self.groups == groups
            && self.layout == layout && shape == weightShape
    }

    /// Whether this packing is usable with the current kernel set for `weight`, `groups`, `layout`.
    public func matches(_ weight: Tensor, groups: Int, layout: ConvWeightLayout) -> Bool {
        matches(weight, groups: groups, layout: layout, kernels: GEMMKernelSet.current)
    }

    /// The weight (Cout, Cin/groups, kH, kW) this packing was made from, bit for bit: a
    /// direct or transposed packing only moves floats (and pads with zeros), so every
    /// weight float is read back from where `pack` put it. Not for Winograd packings
    /// (transformed weights). The layout is packA's / packB's, identical at every ISA
    /// level: per group and kc-block pc (kcb = min(kc, K − pc) rows), panels of mr output
    /// channels (nr for transposed) holding element (o, k) at panel·tile·kcb + (k − pc)·tile + o % tile.
    /// `sign`: +1 gives max(W, 0), −1 min(W, 0) (a rule's W⁺ / W⁻ in one pass), 0 W itself.
    package func unpacked(sign: Int = 0) -> Tensor {
        precondition(layout == .direct || layout == .transposed, "prpkit: a Winograd packing cannot be unpacked")
        let out = Tensor(uninitialized: shape)
        let co = shape[0], kDim = shape[1] * shape[2] * shape[3]
        if co == 0 || kDim == 0 { return out }
        let cog = co / groups, tile = layout == .transposed ? nr : mr, kcB = kc
        let pad = (cog + tile - 1) / tile * tile
        let blocks = (kDim + kcB - 1) / kcB
        let src = UnsafePointer(pointer), dst = out.data
        Parallel.forEach(groups * blocks) { job in
            let g = job / blocks, pc = (job % blocks) * kcB, kcb = Swift.min(kcB, kDim - pc)
            let base = src + g * pad * kDim + pad * pc
            for o in 0..<cog {
                let panel = base + (o / tile) * tile * kcb + o % tile
                let row = dst + (g * cog + o) * kDim + pc
                // Three loops rather than a closure, so that each vectorises.
                if sign > 0 {
                    for k in 0..<kcb { row[k] = Swift.max(panel[k * tile], 0) }
                } else if sign < 0 {
                    for k in 0..<kcb { row[k] = Swift.min(panel[k * tile], 0) }
                } else {
                    for k in 0..<kcb { row[k] = panel[k * tile] }
                }
            }
        }
        return out
    }

    /// Bytes held.
    public var byteCount: Int { count * 4 }

    static package func floats(_ shape: [Int], groups: Int, layout: ConvWeightLayout, kernels ks: GEMMKernelSet) -> Int {
        let co = shape[0], cin = shape[1]
        switch layout {
        case .direct, .transposed:
            let kDim = cin * shape[2] * shape[3]
            let cog = co / max(groups, 1), tile = layout == .transposed ? ks.nr : ks.mr
            return groups * ((cog + tile - 1) / tile * tile) * kDim
        case .winograd(let m, let rows):
            return WinogradTile(m: m).transformedWeightFloats(cout: co, cin: cin, tilesAsRows: rows, kernels: ks)
        }
    }

    /// Packs every group's weight matrix into `dst` (`floats(…)` floats) in the direct or
    /// transposed layout.
    static package func pack(_ weight: Tensor, groups: Int, transposed: Bool, kernels ks: GEMMKernelSet,
                     into dst: UnsafeMutablePointer<Float>) {
        let co = weight.shape[0], kDim = weight.shape[1] * weight.shape[2] * weight.shape[3]
        if kDim == 0 || co == 0 { return }
        let cog = co / groups, kcB = GEMMBlocking.kc
        let tile = transposed ? ks.nr : ks.mr
        let pad = (cog + tile - 1) / tile * tile
        let blocks = (kDim + kcB - 1) / kcB
        let wp = UnsafePointer(weight.data)
        Parallel.forEach(groups * blocks) { job in
            let g = job / blocks, pc = (job % blocks) * kcB
            if transposed {
                // B(k, o) = W[o][k]: rows pc..<pc+kc of W^T, all cog columns.
                ks.packB(wp + g * cog * kDim + pc, 1, kDim, min(kcB, kDim - pc), cog,
                         dst + g * pad * kDim + pad * pc)
            } else {
                ks.packA(wp + g * cog * kDim + pc, kDim, 1, cog, min(kcB, kDim - pc),
                         dst + g * pad * kDim + pad * pc)
            }
        }
    }
}
