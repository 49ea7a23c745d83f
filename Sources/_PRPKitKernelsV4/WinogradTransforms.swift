// Input and output transforms of Winograd minimal filtering F(m×m, 3×3), m = 2, 4 or 6
// (tile α×α with α = m + 2), for up to 16 tiles at a time.
//
// ONE source compiled three times, like GEMMMicroKernel.swift (relative symlinks in
// _PRPKitKernelsV3 and _PRPKitKernelsBase). The driver (tiling, GEMMs in the transformed
// domain, threads, the weight transform) is PRPKit's Kernels/Winograd/.
//
// Every value below is a `TileVector`: lane j belongs to tile j of the group, so both 1-D
// passes of a 2-D transform (Bᵀ·d·B, Aᵀ·M·A) are lane-wise arithmetic with no shuffles.
// Matrices (rows; the last point is ∞):
//   F(2,3), points 0, ±1: Bᵀ [1 0 −1 0] [0 1 1 0] [0 −1 1 0] [0 1 0 −1]; Aᵀ [1 1 1 0] [0 1 −1 −1]
//   F(4,3), points 0, ±3/2, ±2/3 — about 4× more accurate in float32 than Lavin & Gray's
//     0, ±1, ±2 (measured against float64; the search is in tools/winograd_points.py):
//     Bᵀ [1 0 −97/36 0 1 0] [0 −2/3 −4/9 3/2 1 0] [0 2/3 −4/9 −3/2 1 0]
//        [0 −3/2 −9/4 2/3 1 0] [0 3/2 −9/4 −2/3 1 0] [0 1 0 −97/36 0 1];
//     Aᵀ [1 1 1 1 1 0] [0 3/2 −3/2 2/3 −2/3 0] [0 9/4 9/4 4/9 4/9 0] [0 27/8 −27/8 8/27 −8/27 1]
//   F(6,3), points 0, ±1, ±2, ±1/2 (Lavin & Gray): written out in `inputTransform1D` and
//     `outputTransform1D`.
// The kernel transform G is applied once per weight, in PRPKit (WinogradTile.swift).
// Each 1-D transform is factored into shared sums and differences (fewer operations, and
// the same rounding order in both passes).

public typealias TileVector = SIMD16<Float>

extension ISAKernels {
    /// Transforms the input patches of one tile group, channels `channels` of a tensor whose
    /// images have `channelCount` planes of h × w floats starting at `x`, into the packed B
    /// operands of the α² GEMMs: V_ξ (channelCount × width) for ξ = 0..<α², matrix ξ at
    /// `dst + ξ·matrixStride`, each in the packed layout of `packB` with kc-blocks of `kc`
    /// rows (block pc at offset pc·width) and nr-wide strips. Row k of V_ξ is channel k; the
    /// group's 16 tiles are columns `column..<column + 16` (`column` a multiple of 16).
    /// With `asRows`, V_ξ is stored transposed instead, as the packed A operand
    /// (tiles × channelCount, mr-row slivers, kc-blocks at offset pc·width): the tiles are
    /// rows `column..<column + 16` of `width` (a multiple of mr; rows past it are skipped).
    public static func winogradInput(m: Int, x: UnsafePointer<Float>, h: Int, w: Int,
                                     tiles: UnsafePointer<Int>, count: Int, channels: Range<Int>, channelCount: Int,
                                     kc: Int, width: Int, column: Int, asRows: Bool,
                                     into dst: UnsafeMutablePointer<Float>, matrixStride: Int) {
        switch m {
        case 2: winogradInput(alpha: 4, x, h, w, tiles, count, channels, channelCount, kc, width, column, asRows, dst, matrixStride)
        case 4: winogradInput(alpha: 6, x, h, w, tiles, count, channels, channelCount, kc, width, column, asRows, dst, matrixStride)
        default: winogradInput(alpha: 8, x, h, w, tiles, count, channels, channelCount, kc, width, column, asRows, dst, matrixStride)
        }
    }

    // Inlined into each case of the switch above (α a constant there). No closures: they
    // would escape that specialisation.
    @inline(__always)
    static func winogradInput(alpha: Int, _ x: UnsafePointer<Float>, _ h: Int, _ w: Int,
                              _ tiles: UnsafePointer<Int>, _ count: Int, _ channels: Range<Int>, _ channelCount: Int,
                              _ kc: Int, _ width: Int, _ column: Int, _ asRows: Bool,
                              _ dst: UnsafeMutablePointer<Float>, _ matrixStride: Int) {
        let m = alpha &- 2, a2 = alpha &* alpha, span = m &* 16
        // d, t: α² vectors each; staging rows: 2α of 16 tiles × m floats.
        let d = UnsafeMutablePointer<TileVector>.allocate(capacity: 2 &* a2 &+ 2 &* alpha &* m), t = d + a2
        let stage = UnsafeMutableRawPointer(t + a2).assumingMemoryBound(to: Float.self)
        let runs = UnsafeMutablePointer<Int>.allocate(capacity: 17 &+ 16), rowOffsets = runs + 17
        var offsetsBlock = -1, rowCount = 0
        defer { d.deallocate(); runs.deallocate() }
        stage.initialize(repeating: 0, count: 2 &* alpha &* span)
        let runCount = tileRuns(tiles, count, m, into: runs)
        let plane = h &* w
        for k in channels {
            // Staging row 2r: [m·j + c] = tile j's input at patch (r, c) for c < m, and row
            // 2r + 1 the same for c = m + 0..<m; tiles of one run are adjacent in x, so each
            // run is two contiguous copies. Lanes past `count` stay zero. All rows are
            // written before any is read back (loads right after overlapping stores stall).
            for r in 0..<alpha {
                let lo = stage + 2 &* r &* span, hi = lo + span
                for q in 0..<runCount {
                    let j0 = runs[q], j1 = runs[q &+ 1], n = m &* (j1 &- j0)
                    let iy = tiles[16 &+ j0] &+ r, x0 = tiles[32 &+ j0]
                    if iy < 0 || iy >= h {
                        for e in 0..<n { lo[m &* j0 &+ e] = 0; hi[m &* j0 &+ e] = 0 }
                    } else {
                        let row = x + (tiles[j0] &+ k &* plane &+ iy &* w)
                        copyClipped(row, from: x0, count: n, width: w, into: lo + m &* j0)
                        copyClipped(row, from: x0 &+ m, count: n, width: w, into: hi + m &* j0)
                    }
                }
            }
            for r in 0..<alpha {
                let lo = stage + 2 &* r &* span
                deinterleave(m, UnsafePointer(lo), phases: m, into: d + r &* alpha)
                deinterleave(m, UnsafePointer(lo + span), phases: alpha &- m, into: d + (r &* alpha &+ m))
            }
            // V = Bᵀ·d·B: columns first (d → t), then rows in place.
            for c in 0..<alpha { inputTransform1D(alpha, d + c, alpha, t + c, alpha) }
            for r in 0..<alpha { inputTransform1D(alpha, t + r &* alpha, 1, t + r &* alpha, 1) }
            let pc = k / kc &* kc, kcb = min(kc, channelCount &- pc)
            if asRows {
                if pc != offsetsBlock {
                    offsetsBlock = pc
                    rowCount = tileRowOffsets(firstRow: column, rows: width, kc: kcb, into: rowOffsets)
                }
                let blockBase = dst + pc &* width
                for xi in 0..<a2 {
                    storeTileRows(t[xi], blockBase + xi &* matrixStride, UnsafePointer(rowOffsets), rowCount, k: k &- pc)
                }
            } else {
                let rowBase = dst + (pc &* width &+ (k &- pc) &* nr)
                for xi in 0..<a2 {
                    storeTileColumns(t[xi], rowBase + xi &* matrixStride, column: column, kc: kcb)
                }
            }
        }
    }

    /// Splits the `count` tiles of a group into runs of tiles adjacent in one row of one
    /// image (same image offset and row, columns m apart): run q is tiles
    /// runs[q]..<runs[q + 1]. Returns the number of runs.
    @inline(__always)
    static func tileRuns(_ tiles: UnsafePointer<Int>, _ count: Int, _ m: Int, into runs: UnsafeMutablePointer<Int>) -> Int {
        var n = 0
        runs[0] = 0
        if count == 0 { return 0 }
        for j in 1..<(count &+ 1) {
            if j == count || tiles[j] != tiles[j &- 1] || tiles[16 &+ j] != tiles[15 &+ j]
                || tiles[32 &+ j] != tiles[31 &+ j] &+ m {
                n &+= 1
                runs[n] = j
            }
        }
        return n
    }

    /// dst[q] = row[x0 + q] for q in 0..<count, zero where x0 + q is outside 0..<width.
    /// Reads only inside the row.
    @inline(__always)
    static func copyClipped(_ row: UnsafePointer<Float>, from x0: Int, count: Int, width: Int,
                            into dst: UnsafeMutablePointer<Float>) {
        let a = min(count, max(0, 0 &- x0)), b = max(a, min(count, width &- x0))
        for q in 0..<a { dst[q] = 0 }
        for q in b..<count { dst[q] = 0 }
        copyFloats(row + (x0 &+ a), b &- a, dst + a)
    }

    /// dst[0..<n] = src[0..<n] in 16-float vectors (the last one overlapping), scalar below 16.
    @inline(__always)
    static func copyFloats(_ src: UnsafePointer<Float>, _ n: Int, _ dst: UnsafeMutablePointer<Float>) {
        if n < 16 {
            for q in 0..<n { dst[q] = src[q] }
            return
        }
        var q = 0
        while q &+ 16 < n {
            UnsafeMutableRawPointer(dst + q).storeBytes(of: UnsafeRawPointer(src + q).loadUnaligned(as: TileVector.self), as: TileVector.self)
            q &+= 16
        }
        let e = n &- 16
        UnsafeMutableRawPointer(dst + e).storeBytes(of: UnsafeRawPointer(src + e).loadUnaligned(as: TileVector.self), as: TileVector.self)
    }

    /// out[c] lane j = src[m·j + c] for c in 0..<phases (phases ≤ m): the stride-m columns
    /// of a staging row, by lane permutations for m = 2 and 4.
    @inline(__always)
    static func deinterleave(_ m: Int, _ src: UnsafePointer<Float>, phases: Int, into out: UnsafeMutablePointer<TileVector>) {
        let r = UnsafeRawPointer(src)
        func ld(_ i: Int) -> TileVector { r.loadUnaligned(fromByteOffset: 64 &* i, as: TileVector.self) }
        switch m {
        case 2:
            let v0 = ld(0), v1 = ld(1)
            out[0] = TileVector(lowHalf: v0.evenHalf, highHalf: v1.evenHalf)
            if phases > 1 { out[1] = TileVector(lowHalf: v0.oddHalf, highHalf: v1.oddHalf) }
        case 4:
            let v0 = ld(0), v1 = ld(1), v2 = ld(2), v3 = ld(3)
            let e0 = TileVector(lowHalf: v0.evenHalf, highHalf: v1.evenHalf), o0 = TileVector(lowHalf: v0.oddHalf, highHalf: v1.oddHalf)
            let e1 = TileVector(lowHalf: v2.evenHalf, highHalf: v3.evenHalf), o1 = TileVector(lowHalf: v2.oddHalf, highHalf: v3.oddHalf)
            out[0] = TileVector(lowHalf: e0.evenHalf, highHalf: e1.evenHalf)
            out[1] = TileVector(lowHalf: o0.evenHalf, highHalf: o1.evenHalf)
            if phases > 2 {
                out[2] = TileVector(lowHalf: e0.oddHalf, highHalf: e1.oddHalf)
                out[3] = TileVector(lowHalf: o0.oddHalf, highHalf: o1.oddHalf)
            }
        default:
            for c in 0..<phases {
                var v = TileVector()
                for j in 0..<16 { v[j] = src[m &* j &+ c] }
                out[c] = v
            }
        }
    }

    /// dst[m·j + c] = v[c] lane j for c in 0..<m: the inverse of `deinterleave`.
    @inline(__always)
    static func interleave(_ m: Int, _ v: UnsafePointer<TileVector>, into dst: UnsafeMutablePointer<Float>) {
        func zip(_ x: TileVector, _ y: TileVector) -> (TileVector, TileVector) {
            var lo = TileVector(), hi = TileVector()
            lo.evenHalf = x.lowHalf; lo.oddHalf = y.lowHalf
            hi.evenHalf = x.highHalf; hi.oddHalf = y.highHalf
            return (lo, hi)
        }
        let r = UnsafeMutableRawPointer(dst)
        func st(_ v: TileVector, _ i: Int) { r.storeBytes(of: v, toByteOffset: 64 &* i, as: TileVector.self) }
        switch m {
        case 2:
            let (a, b) = zip(v[0], v[1])
            st(a, 0); st(b, 1)
        case 4:
            let (p0, p1) = zip(v[0], v[2]), (q0, q1) = zip(v[1], v[3])
            let (r0, r1) = zip(p0, q0), (r2, r3) = zip(p1, q1)
            st(r0, 0); st(r1, 1); st(r2, 2); st(r3, 3)
        default:
            for c in 0..<m {
                let x = v[c]
                for j in 0..<16 { dst[m &* j &+ c] = x[j] }
            }
        }
    }

    /// Stores 16 consecutive columns (`column` a multiple of 16) of one packed-B row whose
    /// strip 0 starts at `row` (strips of nr columns, kc rows each).
    @inline(__always)
    static func storeTileColumns(_ v: TileVector, _ row: UnsafeMutablePointer<Float>, column: Int, kc: Int) {
        if nr >= 16 {
            let p = row + (column / nr) * kc * nr + column % nr
            UnsafeMutableRawPointer(p).storeBytes(of: v, as: TileVector.self)
        } else {
            let p0 = row + (column / nr) * kc * nr, p1 = row + ((column + 8) / nr) * kc * nr
            UnsafeMutableRawPointer(p0).storeBytes(of: v.lowHalf, as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(p1).storeBytes(of: v.highHalf, as: SIMD8<Float>.self)
        }
    }

    /// Offsets in a packed A block of kc columns (mr-row slivers) of rows
    /// `firstRow + j`, column 0, for the lanes j below `rows` (returns how many).
    @inline(__always)
    static func tileRowOffsets(firstRow: Int, rows: Int, kc: Int, into offsets: UnsafeMutablePointer<Int>) -> Int {
        let n = max(0, min(16, rows &- firstRow))
        for j in 0..<n {
            let row = firstRow &+ j, sliver = row / mr
            offsets[j] = sliver &* kc &* mr &+ (row &- sliver &* mr)
        }
        return n
    }

    /// Stores lane j at `block[offsets[j] + k·mr]` for j in 0..<n (column k of the rows).
    @inline(__always)
    static func storeTileRows(_ v: TileVector, _ block: UnsafeMutablePointer<Float>, _ offsets: UnsafePointer<Int>, _ n: Int, k: Int) {
        let p = block + k &* mr
        for j in 0..<n { p[offsets[j]] = v[j] }
    }

    /// o[i·os] = Σ_r Bᵀ[i][r]·s[r·ss], i = 0..<α (o may alias s when the strides agree).
    @inline(__always)
    static func inputTransform1D(_ alpha: Int, _ s: UnsafePointer<TileVector>, _ ss: Int,
                                 _ o: UnsafeMutablePointer<TileVector>, _ os: Int) {
        switch alpha {
        case 4:
            let d0 = s[0], d1 = s[ss], d2 = s[2 * ss], d3 = s[3 * ss]
            o[0] = d0 - d2; o[os] = d1 + d2; o[2 * os] = d2 - d1; o[3 * os] = d1 - d3
        case 6:
            let d0 = s[0], d1 = s[ss], d2 = s[2 * ss], d3 = s[3 * ss], d4 = s[4 * ss], d5 = s[5 * ss]
            func c(_ v: Float) -> TileVector { TileVector(repeating: v) }
            let t1 = madd16(c(-4.0 / 9), d2, d4), t2 = madd16(c(1.5), d3, c(-2.0 / 3) * d1)
            let t3 = madd16(c(-2.25), d2, d4), t4 = madd16(c(2.0 / 3), d3, c(-1.5) * d1)
            o[0] = madd16(c(-97.0 / 36), d2, d0 + d4)
            o[os] = t1 + t2; o[2 * os] = t1 - t2
            o[3 * os] = t3 + t4; o[4 * os] = t3 - t4
            o[5 * os] = madd16(c(-97.0 / 36), d3, d1 + d5)
        default:
            // Bᵀ rows: [1 0 −21/4 0 21/4 0 −1 0] [0 1 1 −17/4 −17/4 1 1 0] [0 −1 1 17/4 −17/4 −1 1 0]
            // [0 1/2 1/4 −5/2 −5/4 2 1 0] [0 −1/2 1/4 5/2 −5/4 −2 1 0] [0 2 4 −5/2 −5 1/2 1 0]
            // [0 −2 4 5/2 −5 −1/2 1 0] [0 −1 0 21/4 0 −21/4 0 1]
            let d0 = s[0], d1 = s[ss], d2 = s[2 * ss], d3 = s[3 * ss]
            let d4 = s[4 * ss], d5 = s[5 * ss], d6 = s[6 * ss], d7 = s[7 * ss]
            func c(_ v: Float) -> TileVector { TileVector(repeating: v) }
            let t1 = d2 + d6 - c(4.25) * d4, t2 = d1 + d5 - c(4.25) * d3
            let t3 = d6 + c(0.25) * d2 - c(1.25) * d4, t4 = c(0.5) * d1 - c(2.5) * d3 + c(2) * d5
            let t5 = d6 + c(4) * d2 - c(5) * d4, t6 = c(2) * d1 - c(2.5) * d3 + c(0.5) * d5
            o[0] = d0 - d6 + c(5.25) * (d4 - d2)
            o[os] = t1 + t2; o[2 * os] = t1 - t2
            o[3 * os] = t3 + t4; o[4 * os] = t3 - t4
            o[5 * os] = t5 + t6; o[6 * os] = t5 - t6
            o[7 * os] = d7 - d1 + c(5.25) * (d3 - d5)
        }
    }

    /// Transforms back the GEMM results of one tile group and writes the output tiles:
    /// for output channel co in `channels`, M_ξ's 16 values at `src + ξ·matrixStride +
    /// co·rowStride` (lane j = tile j) become the m×m outputs Aᵀ·M·A (+ `bias[co]`, then
    /// ·`scale[co]` + `shift[co]` when given, then max(·, 0) when `relu`; NaN kept), stored
    /// into planes of ho × wo floats per channel
    /// (image of tile j at `out + tiles[j]`), clipped at the plane's edges.
    public static func winogradOutput(m: Int, src: UnsafePointer<Float>, matrixStride: Int, rowStride: Int,
                                      channels: Range<Int>, out: UnsafeMutablePointer<Float>, ho: Int, wo: Int,
                                      tiles: UnsafePointer<Int>, count: Int, bias: UnsafePointer<Float>?,
                                      scale: UnsafePointer<Float>?, shift: UnsafePointer<Float>?, relu: Bool) {
        switch m {
        case 2: winogradOutput(alpha: 4, src, matrixStride, rowStride, channels, out, ho, wo, tiles, count, bias, scale, shift, relu)
        case 4: winogradOutput(alpha: 6, src, matrixStride, rowStride, channels, out, ho, wo, tiles, count, bias, scale, shift, relu)
        default: winogradOutput(alpha: 8, src, matrixStride, rowStride, channels, out, ho, wo, tiles, count, bias, scale, shift, relu)
        }
    }

    @inline(__always)
    static func winogradOutput(alpha: Int, _ src: UnsafePointer<Float>, _ matrixStride: Int, _ rowStride: Int,
                               _ channels: Range<Int>, _ out: UnsafeMutablePointer<Float>, _ ho: Int, _ wo: Int,
                               _ tiles: UnsafePointer<Int>, _ count: Int, _ bias: UnsafePointer<Float>?,
                               _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ relu: Bool) {
        let m = alpha &- 2, a2 = alpha &* alpha
        // mm: α² vectors; t: m·α; one staging row of 16 tiles × m floats.
        let mm = UnsafeMutablePointer<TileVector>.allocate(capacity: a2 &+ m &* alpha &+ m), t = mm + a2
        let stage = UnsafeMutableRawPointer(t + m &* alpha).assumingMemoryBound(to: Float.self)
        let runs = UnsafeMutablePointer<Int>.allocate(capacity: 17)
        defer { mm.deallocate(); runs.deallocate() }
        let runCount = tileRuns(tiles, count, m, into: runs)
        let plane = ho &* wo
        for co in channels {
            for xi in 0..<a2 {
                mm[xi] = UnsafeRawPointer(src + (xi &* matrixStride &+ co &* rowStride)).loadUnaligned(as: TileVector.self)
            }
            // Y = Aᵀ·M·A: columns first (M → t, m rows of α), then rows in place (α → m).
            for c in 0..<alpha { outputTransform1D(alpha, mm + c, alpha, t + c, alpha) }
            for r in 0..<m { outputTransform1D(alpha, t + r &* alpha, 1, t + r &* m, 1) }
            let b = TileVector(repeating: bias?[co] ?? 0)
            let sc = TileVector(repeating: scale?[co] ?? 1), sh = TileVector(repeating: shift?[co] ?? 0)
            for i in 0..<(m &* m) {
                var v = t[i] + b
                if scale != nil { v = v * sc + sh }
                if relu { v.replace(with: 0, where: v .< 0) }
                t[i] = v
            }
            // Output row r of every tile: interleaved into one staging row, then one copy
            // per run, clipped at the plane's right and bottom edges.
            for r in 0..<m {
                interleave(m, t + r &* m, into: stage)
                for q in 0..<runCount {
                    let j0 = runs[q], j1 = runs[q &+ 1]
                    let oy = tiles[16 &+ j0] &+ r, x0 = tiles[32 &+ j0]
                    if oy >= ho { continue }
                    let n = min(m &* (j1 &- j0), wo &- x0)
                    copyFloats(stage + m &* j0, n, out + (tiles[j0] &+ co &* plane &+ oy &* wo &+ x0))
                }
            }
        }
    }

    /// `winogradOutput` for GEMM results stored transposed, M_ξ (tiles × Cout): tile j's
    /// row of M_ξ at `src + ξ·matrixStride + j·rowStride` (channels contiguous). Lanes run
    /// over 16 output channels instead of 16 tiles; the arithmetic of every output is the
    /// same, so both layouts give the same floats.
    public static func winogradOutputChannels(m: Int, src: UnsafePointer<Float>, matrixStride: Int, rowStride: Int,
                                              channels: Range<Int>, out: UnsafeMutablePointer<Float>, ho: Int, wo: Int,
                                              tiles: UnsafePointer<Int>, count: Int, bias: UnsafePointer<Float>?,
                                      scale: UnsafePointer<Float>?, shift: UnsafePointer<Float>?, relu: Bool) {
        switch m {
        case 2: winogradOutputChannels(alpha: 4, src, matrixStride, rowStride, channels, out, ho, wo, tiles, count, bias, scale, shift, relu)
        case 4: winogradOutputChannels(alpha: 6, src, matrixStride, rowStride, channels, out, ho, wo, tiles, count, bias, scale, shift, relu)
        default: winogradOutputChannels(alpha: 8, src, matrixStride, rowStride, channels, out, ho, wo, tiles, count, bias, scale, shift, relu)
        }
    }

    @inline(__always)
    static func winogradOutputChannels(alpha: Int, _ src: UnsafePointer<Float>, _ matrixStride: Int, _ rowStride: Int,
                                       _ channels: Range<Int>, _ out: UnsafeMutablePointer<Float>, _ ho: Int, _ wo: Int,
                                       _ tiles: UnsafePointer<Int>, _ count: Int, _ bias: UnsafePointer<Float>?,
                               _ scale: UnsafePointer<Float>?, _ shift: UnsafePointer<Float>?, _ relu: Bool) {
        let m = alpha &- 2, a2 = alpha &* alpha
        let mm = UnsafeMutablePointer<TileVector>.allocate(capacity: a2 &+ m &* alpha), t = mm + a2
        defer { mm.deallocate() }
        let yp = UnsafeMutableRawPointer(t).assumingMemoryBound(to: Float.self)
        let plane = ho &* wo
        for j in 0..<count {
            let row = src + j &* rowStride, oy0 = tiles[16 &+ j], ox0 = tiles[32 &+ j]
            let rows = min(m, ho &- oy0), cols = min(m, wo &- ox0)
            var c0 = channels.lowerBound
            while c0 < channels.upperBound {
                let lanes = min(16, channels.upperBound &- c0)
                // Past the last channel the loads read into the row's padding (ignored).
                for xi in 0..<a2 {
                    mm[xi] = UnsafeRawPointer(row + (xi &* matrixStride &+ c0)).loadUnaligned(as: TileVector.self)
                }
                for c in 0..<alpha { outputTransform1D(alpha, mm + c, alpha, t + c, alpha) }
                for r in 0..<m { outputTransform1D(alpha, t + r &* alpha, 1, t + r &* m, 1) }
                var b = TileVector(), sc = TileVector(repeating: 1), sh = TileVector()
                if let bias { for l in 0..<lanes { b[l] = bias[c0 &+ l] } }
                if let scale, let shift { for l in 0..<lanes { sc[l] = scale[c0 &+ l]; sh[l] = shift[c0 &+ l] } }
                for i in 0..<(m &* m) {
                    var v = t[i] + b
                    if scale != nil { v = v * sc + sh }
                    if relu { v.replace(with: 0, where: v .< 0) }
                    t[i] = v
                }
                for l in 0..<lanes {
                    let dst = out + (tiles[j] &+ (c0 &+ l) &* plane &+ oy0 &* wo &+ ox0)
                    for r in 0..<rows {
                        for s in 0..<cols { dst[r &* wo &+ s] = yp[(r &* m &+ s) &* 16 &+ l] }
                    }
                }
                c0 &+= 16
            }
        }
    }

    /// o[i·os] = Σ_r Aᵀ[i][r]·s[r·ss], i = 0..<α − 2 (o may alias s: every input is read
    /// before the first store).
    @inline(__always)
    static func outputTransform1D(_ alpha: Int, _ s: UnsafePointer<TileVector>, _ ss: Int,
                                  _ o: UnsafeMutablePointer<TileVector>, _ os: Int) {
        switch alpha {
        case 4:
            let m0 = s[0], m1 = s[ss], m2 = s[2 * ss], m3 = s[3 * ss]
            o[0] = m0 + m1 + m2; o[os] = m1 - m2 - m3
        case 6:
            let m0 = s[0], m1 = s[ss], m2 = s[2 * ss], m3 = s[3 * ss], m4 = s[4 * ss], m5 = s[5 * ss]
            func c(_ v: Float) -> TileVector { TileVector(repeating: v) }
            let a1 = m1 + m2, s1 = m1 - m2, a2 = m3 + m4, s2 = m3 - m4
            o[0] = m0 + a1 + a2
            o[os] = madd16(c(1.5), s1, c(2.0 / 3) * s2)
            o[2 * os] = madd16(c(2.25), a1, c(4.0 / 9) * a2)
            o[3 * os] = madd16(c(3.375), s1, madd16(c(8.0 / 27), s2, m5))
        default:
            // Aᵀ rows: [1 1 1 1 1 1 1 0] [0 1 −1 2 −2 1/2 −1/2 0] [0 1 1 4 4 1/4 1/4 0]
            // [0 1 −1 8 −8 1/8 −1/8 0] [0 1 1 16 16 1/16 1/16 0] [0 1 −1 32 −32 1/32 −1/32 1]
            let m0 = s[0], m1 = s[ss], m2 = s[2 * ss], m3 = s[3 * ss]
            let m4 = s[4 * ss], m5 = s[5 * ss], m6 = s[6 * ss], m7 = s[7 * ss]
            func c(_ v: Float) -> TileVector { TileVector(repeating: v) }
            let a1 = m1 + m2, s1 = m1 - m2, a2 = m3 + m4, s2 = m3 - m4, a3 = m5 + m6, s3 = m5 - m6
            o[0] = m0 + a1 + a2 + a3
            o[os] = s1 + c(2) * s2 + c(0.5) * s3
            o[2 * os] = a1 + c(4) * a2 + c(0.25) * a3
            o[3 * os] = s1 + c(8) * s2 + c(0.125) * s3
            o[4 * os] = a1 + c(16) * a2 + c(0.0625) * a3
            o[5 * os] = s1 + c(32) * s2 + c(0.03125) * s3 + m7
        }
    }
}
